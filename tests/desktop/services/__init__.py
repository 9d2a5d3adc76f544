"""Tests of the Qt-free, network-free services (mailfleet/desktop/services), on SQLite and
PostgreSQL."""
