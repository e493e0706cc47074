"""The `kb` subcommands of the library (build, eval, tune, calibrate, bench, synthetic): each a main(argv) -> int."""
