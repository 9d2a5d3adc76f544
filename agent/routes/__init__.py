"""Routes: where a rendered, signed message goes. Every route implements :class:`Route`
(:mod:`agent.routes.base`); :mod:`agent.routes.smtp` is the SMTP client they share."""
