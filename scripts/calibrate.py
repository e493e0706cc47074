#!/usr/bin/env python3
"""Kept so that existing commands work: the same as `kb calibrate` (kb.commands.calibrate)."""
import sys

from kb.commands.calibrate import main

if __name__ == "__main__":
    sys.exit(main())
