"""The `kb` subcommands that need the web app (serve, add-agent, simulate-users, bench-dashboard): each a main(argv) -> int."""
