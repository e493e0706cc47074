#!/usr/bin/env python3
"""Kept so that existing commands work: the same as `kb bench` (kb.commands.bench)."""
import sys

from kb.commands.bench import main

if __name__ == "__main__":
    sys.exit(main())
