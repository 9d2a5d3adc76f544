"""The Qt views. Only this package imports Qt, and only through ``desktop.ui.qt``."""
