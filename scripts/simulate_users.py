#!/usr/bin/env python3
"""Kept so that existing commands work: the same as `kb simulate-users` (webapp.commands.simulate_users)."""
import sys

from webapp.commands.simulate_users import main

if __name__ == "__main__":
    sys.exit(main())
