"""Qt-free, network-free services: the desktop's own logic on its database (contacts, imports,
segments, templates, campaigns, statistics), usable from the views, the link and the tests."""
