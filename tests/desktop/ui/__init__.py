"""Tests of the Qt views (mailfleet/desktop/ui), offscreen, with screenshots in
tests/artifacts/desktop."""
