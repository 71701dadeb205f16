"""Accounts: the customer base and the per-account view of the API."""
