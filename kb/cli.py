"""`kb`: one command for writers and operators. Each subcommand keeps the flags of the script it replaces
(`kb build --help` lists them); the old `scripts/*.py` paths are thin shims over the same functions.

    kb build       build or update the index (kb.commands.build)
    kb serve       serve the help center (webapp.commands.serve)
    kb eval        retrieval quality per ranking mode (kb.commands.eval)
    kb tune        sweep the hybrid fusion (kb.commands.tune)
    kb calibrate   fit the confidence model (kb.commands.calibrate)
    kb bench       build time, cold start, latency and memory (kb.commands.bench)
    kb add-agent   add or change an agent's password (webapp.commands.add_agent)
    kb synthetic   write a synthetic knowledge base for benchmarks (kb.commands.synthetic)
    kb bench-dashboard  the writers' dashboard over a big seeded log (webapp.commands.bench_dashboard)
"""
from __future__ import annotations

import importlib
import sys

import click

# name → (module with main(argv) -> int, one line of help). Modules are imported only when run:
# `kb build` never imports Flask, `kb serve` never imports the eval harness.
COMMANDS = {
    "build": ("kb.commands.build", "Build (or incrementally update) the search index from the articles folder."),
    "serve": ("webapp.commands.serve", "Serve the help center (waitress, or gunicorn with --workers N)."),
    "eval": ("kb.commands.eval", "Retrieval quality of every ranking mode, side by side, per language."),
    "tune": ("kb.commands.tune", "Sweep the hybrid fusion method and weights on dev sets."),
    "calibrate": ("kb.commands.calibrate", "Fit the confidence model (kb/data/calibration.json)."),
    "bench": ("kb.commands.bench", "Build time, cold start, latency and memory over HTTP."),
    "add-agent": ("webapp.commands.add_agent", "Add an agent user (or change a password) in the users file."),
    "synthetic": ("kb.commands.synthetic", "Write a synthetic knowledge base of N articles for benchmarks."),
    "simulate-users": ("webapp.commands.simulate_users", "Play a scripted session of users against a running server."),
    "bench-dashboard": ("webapp.commands.bench_dashboard",
                        "Time the writers' dashboard and its CSV files over a seeded log (SQLite, PostgreSQL)."),
}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """kb: help-center search and answers over a folder of Markdown articles."""


def run(module: str, argv: list[str] | None = None) -> int:
    """Run one command module's main(argv); a bad or unknown setting is one line naming it, exit status 2."""
    from .config import SettingsError

    try:
        return importlib.import_module(module).main(argv)
    except SettingsError as exc:
        print(f"kb: {exc}", file=sys.stderr)
        return 2


def _command(name: str, module: str, help_text: str) -> click.Command:
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args: tuple[str, ...]) -> None:
        sys.exit(run(module, list(args)))

    # The subcommand's own parser (argparse) answers --help, so that each flag is described once.
    return click.command(name, help=help_text, add_help_option=False,
                         context_settings={"ignore_unknown_options": True, "allow_extra_args": True})(command)


for _name, (_module, _help) in COMMANDS.items():
    main.add_command(_command(_name, _module, _help))
