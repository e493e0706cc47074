#!/usr/bin/env python3
"""Kept so that existing commands work: the same as `kb add-agent` (webapp.commands.add_agent)."""
import sys

from kb.cli import run

if __name__ == "__main__":
    sys.exit(run("webapp.commands.add_agent"))
