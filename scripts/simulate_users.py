#!/usr/bin/env python3
"""Kept so that existing commands work: the same as `kb simulate-users` (webapp.commands.simulate_users)."""
import sys

from kb.cli import run

if __name__ == "__main__":
    sys.exit(run("webapp.commands.simulate_users"))
