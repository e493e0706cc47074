"""Throw-away Redis and nginx servers for tests (Debian's redis-server and nginx), on free loopback ports, each in a
temp folder of its own. nginx runs deploy/nginx.conf itself, its upstream servers and listen port replaced."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from conftest import missing_tool

ROOT = Path(__file__).resolve().parents[1]
NGINX_CONF = ROOT / "deploy" / "nginx.conf"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout: float, what: str, interval: float = 0.05):
    """Poll `condition()` until it returns something true; AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class RedisServer:
    """redis-server on 127.0.0.1:<free port>, nothing saved to disk; `url` for KB_RATE_LIMIT_STORAGE."""

    def __init__(self):
        binary = shutil.which("redis-server")
        if not binary:
            missing_tool("redis-server is not installed (apt-get install redis-server)")
        self.dir = tempfile.mkdtemp(prefix="kb-redis-")
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                                      "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.proc.poll() is not None or self.ping(), 10, "redis-server to answer")
        assert self.proc.poll() is None, f"redis-server exited with {self.proc.returncode}"

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def render_nginx_conf(text: str, listen: int, upstreams: list[int], access_log: str) -> str:
    """deploy/nginx.conf for loopback: its upstream `server` lines replaced by one per port (their options kept),
    its listen port and access log path replaced; every other line as written."""
    servers = re.findall(r"^(\s*)server\s+\S+:\d+(\s[^;]*)?;\s*$", text, flags=re.M)
    assert servers, "deploy/nginx.conf has no upstream server lines"
    indent, options = servers[0]
    lines = "".join(f"{indent}server 127.0.0.1:{port}{options};\n" for port in upstreams)
    text, n = re.subn(r"(?:^\s*server\s+\S+:\d+(?:\s[^;]*)?;\s*\n)+", lambda _: lines, text, count=1, flags=re.M)
    text, m = re.subn(r"^(\s*)listen\s+80;", rf"\g<1>listen 127.0.0.1:{listen};", text, flags=re.M)
    text, k = re.subn(r"^(\s*)access_log\s+\S+", rf"\g<1>access_log {access_log}", text, flags=re.M)
    assert (n, m, k) == (1, 1, 1), "deploy/nginx.conf changed shape: update render_nginx_conf"
    return text


class NginxServer:
    """nginx in the foreground with deploy/nginx.conf (rendered for these ports) included in a minimal main
    configuration, as Debian's nginx.conf includes sites-enabled/*. `url`: the help center through nginx."""

    def __init__(self, upstreams: list[int]):
        binary = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
        if not binary:
            missing_tool("nginx is not installed (apt-get install nginx)")
        self.dir = Path(tempfile.mkdtemp(prefix="kb-nginx-"))
        os.chmod(self.dir, 0o755)  # run as root, nginx's workers are `nobody`
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = self.dir / "access.log"
        site = render_nginx_conf(NGINX_CONF.read_text(encoding="utf-8"), self.port, upstreams, str(self.access_log))
        (self.dir / "kb.conf").write_text(site, encoding="utf-8")
        temp = "\n".join(f"    {kind}_temp_path {self.dir / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (self.dir / "nginx.conf").write_text(f"""\
pid {self.dir / 'nginx.pid'};
error_log {self.dir / 'error.log'} warn;
worker_processes 1;
events {{ worker_connections 512; }}
http {{
{temp}
    include {self.dir / 'kb.conf'};
}}
""", encoding="utf-8")
        self.cmd = [binary, "-p", str(self.dir), "-e", str(self.dir / "error.log"), "-c", str(self.dir / "nginx.conf"), "-g", "daemon off;"]
        check = subprocess.run([*self.cmd[:-2], "-t"], capture_output=True, text=True)
        assert check.returncode == 0, f"nginx -t refused the rendered deploy/nginx.conf:\n{check.stderr}"
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: self.proc.poll() is not None or listening(self.port), 10, "nginx to listen")
        assert self.proc.poll() is None, f"nginx exited: {self.proc.stderr.read()}"

    def log_lines(self) -> list[str]:
        return self.access_log.read_text(encoding="utf-8").splitlines() if self.access_log.exists() else []

    def error_log(self) -> str:
        path = self.dir / "error.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: nginx's fast shutdown, the workers with it
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)
