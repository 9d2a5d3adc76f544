"""Tests of the data layer (desktop/db): models, migrations, both databases."""
