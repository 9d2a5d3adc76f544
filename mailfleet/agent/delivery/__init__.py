"""Getting queued messages out: scheduler (coordinator side) and workers (rendering, signing,
handing to a route)."""
