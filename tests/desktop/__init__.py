"""Tests of the desktop app: data layer, services and the Qt views."""
