#!/usr/bin/env python3
"""Kept so that existing commands work: the same as `kb serve` (webapp.commands.serve)."""
import sys

from webapp.commands.serve import main

if __name__ == "__main__":
    sys.exit(main())
