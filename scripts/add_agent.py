#!/usr/bin/env python3
"""Kept so that existing commands work: the same as `kb add-agent` (webapp.commands.add_agent)."""
import sys

from webapp.commands.add_agent import main

if __name__ == "__main__":
    sys.exit(main())
