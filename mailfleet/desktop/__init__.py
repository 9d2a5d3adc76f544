"""The Mailfleet desktop: the marketer's app for contacts, campaigns and the agent fleet."""
