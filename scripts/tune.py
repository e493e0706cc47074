#!/usr/bin/env python3
"""Kept so that existing commands work: the same as `kb tune` (kb.commands.tune)."""
import sys

from kb.commands.tune import main

if __name__ == "__main__":
    sys.exit(main())
