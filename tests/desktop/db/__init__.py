"""Tests of the data layer (mailfleet/desktop/db): models, migrations, both databases."""
