"""A throw-away PostgreSQL server for tests (Debian's postgresql package), on a unix socket in a temp folder."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile

from conftest import missing_tool


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class PostgresServer:
    def __init__(self):
        initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
        if not (initdb and pg_ctl):
            missing_tool("PostgreSQL is not installed (apt-get install postgresql)")
        self.dir = tempfile.mkdtemp(prefix="kb-pg-")
        os.chmod(self.dir, 0o777)
        self.data, self.sock = os.path.join(self.dir, "data"), os.path.join(self.dir, "sock")
        os.makedirs(self.sock)
        os.chmod(self.sock, 0o777)
        # PostgreSQL refuses to run as root: run it as the postgres user when we are root.
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.pg_ctl = pg_ctl
        subprocess.run([*self.prefix, initdb, "-D", self.data, "-A", "trust", "-U", "kb", "--no-sync"],
                       check=True, capture_output=True)
        subprocess.run([*self.prefix, pg_ctl, "-D", self.data, "-w", "-l", os.path.join(self.dir, "log"), "-o",
                        f"-c listen_addresses='' -k {self.sock} -p 54329 -c fsync=off", "start"],
                       check=True, capture_output=True)
        self.url = f"postgresql+psycopg://kb@/postgres?host={self.sock}&port=54329"

    def stop(self):
        subprocess.run([*self.prefix, self.pg_ctl, "-D", self.data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
