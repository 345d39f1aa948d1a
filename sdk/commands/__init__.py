"""Subcommand groups of the `edgewise` CLI, one module each, listed in `edgewise.cli.COMMAND_MODULES`."""
