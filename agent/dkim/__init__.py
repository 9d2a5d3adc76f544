"""DKIM keys per sending domain and selector, and the fast signer."""
