#!/usr/bin/env python3
"""Kept so that existing commands work: the same as `kb bench` (kb.commands.bench)."""
import sys

from kb.cli import run

if __name__ == "__main__":
    sys.exit(run("kb.commands.bench"))
