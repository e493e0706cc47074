"""The `kb` subcommands that need the web app (serve, add-agent, simulate-users): each a main(argv) -> int."""
