"""Tests of the Qt-free, network-free services (desktop/services), on SQLite and PostgreSQL."""
