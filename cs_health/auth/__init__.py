"""API keys: created by the CLI, shown once, stored hashed, checked per request with scopes."""
