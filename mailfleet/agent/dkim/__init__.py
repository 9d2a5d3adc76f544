"""DKIM keys per sending domain and selector, the fast signer, and the checks of what a
sending domain publishes in DNS (SPF, DKIM, DMARC, PTR, MTA-STS)."""
