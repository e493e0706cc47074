"""Add an agent (or change an agent's password) in the users file named by KB_AGENT_USERS (or --file).

The password is asked twice at the prompt (or read from stdin with --stdin) and stored only as a werkzeug hash."""
from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
from pathlib import Path

from werkzeug.security import generate_password_hash

_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("name", help="agent name (letters, digits, . _ @ -)")
    p.add_argument("--file", default=os.environ.get("KB_AGENT_USERS"), help="users file (default: $KB_AGENT_USERS)")
    p.add_argument("--stdin", action="store_true", help="read the password from stdin instead of the prompt")
    args = p.parse_args(argv)
    if not args.file:
        p.error("--file: no users file; give --file or set KB_AGENT_USERS")
    if not _NAME.match(args.name):
        p.error(f"name: {args.name!r} must be 1-64 letters, digits or . _ @ -")
    if args.stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if password != getpass.getpass("again: "):
            print("the passwords differ; nothing changed", file=sys.stderr)
            return 1
    if len(password) < 10:
        print("password: use at least 10 characters; nothing changed", file=sys.stderr)
        return 1
    path = Path(args.file)
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    kept = [line for line in lines if line.partition(":")[0].strip() != args.name]
    kept.append(f"{args.name}:{generate_password_hash(password)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(kept) + "\n", encoding="utf-8")
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    print(f"{'updated' if len(kept) == len(lines) else 'added'} {args.name} in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
