"""ESP event webhooks: verify each provider's request, turn its events into ours.

``POST /webhooks/<route name>`` on the agent's HTTP server takes the events of the ESP route of
that name: SendGrid's Signed Event Webhook (ECDSA over timestamp + body), Mailgun's webhooks
(HMAC-SHA256 of timestamp + token with the signing key), Amazon SES's through SNS (RSA
signatures checked with SNS's signing certificate; subscriptions confirmed) and Postmark's
(basic auth, as Postmark signs nothing). Each event names our message by the
``mailfleet_message_id`` metadata the route sent with it, and is recorded only if that message
went to the event's recipient.

Each event has the effect the same feedback has when it reaches the agent directly (see
:mod:`mailfleet.agent.feedback.record`): a hard bounce bounces the message and suppresses the
address; a soft bounce (the provider gave up, but the address may be fine) bounces the message and
counts towards the address's soft-bounce score; a complaint suppresses at once; an unsubscribe (also
SendGrid's group unsubscribe, which names a SendGrid group our tags know nothing of) suppresses
the address for bulk mail. Deferrals (the provider is still retrying) and the provider's final
delivery are only logged. ``attrs.source`` of each event names the provider.

Whether a bounce is hard is the provider's word checked against our own classifier: a
permanent failure whose diagnostic says the message or the sender was refused (a spam or
policy block, content, size) does not suppress a good address, just as a direct one would not.
"""
