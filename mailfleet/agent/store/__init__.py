"""The agent's durable store: SQLite in WAL mode, written only by the coordinator."""
