"""Apps, custom channels, channel accounts and their credentials, the public API, webhooks."""
