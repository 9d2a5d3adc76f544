"""The Qt views. Only this package imports Qt, and only through ``mailfleet.desktop.ui.qt``."""
