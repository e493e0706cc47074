#!/usr/bin/env python3
"""Kept so that existing commands work: the same as `kb synthetic` (kb.commands.synthetic)."""
import sys

from kb.commands.synthetic import main

if __name__ == "__main__":
    sys.exit(main())
