"""The SMTP client the SMTP routes share: sessions over aiosmtplib, the pipelining wire,
replies turned into outcomes, MX and MTA-STS lookups, and connection pools per destination."""
