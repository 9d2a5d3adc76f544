"""Routes: where a rendered, signed message goes. Every route implements :class:`Route`."""
