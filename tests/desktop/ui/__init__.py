"""Tests of the Qt views (desktop/ui), offscreen, with screenshots in tests/artifacts/desktop."""
