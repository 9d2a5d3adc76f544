"""Qt-free services: the desktop's logic, usable from the views, the CLI and the tests."""
