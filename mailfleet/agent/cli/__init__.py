"""``mailfleet-agent``: the operator's command line, one module per group of subcommands."""
