#!/usr/bin/env python3
"""The same as `kb bench-dashboard` (webapp.commands.bench_dashboard)."""
import sys

from kb.cli import run

if __name__ == "__main__":
    sys.exit(run("webapp.commands.bench_dashboard"))
