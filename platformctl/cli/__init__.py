"""The CLI layer: Typer commands, option parsing, all rich output, exit codes."""
