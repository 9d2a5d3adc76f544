"""Routes: where a rendered, signed message goes. Every route implements :class:`Route`
(:mod:`mailfleet.agent.routes.base`); :mod:`mailfleet.agent.routes.smtp` is the SMTP client they
share."""
