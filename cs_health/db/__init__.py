"""Storage: engine and sessions, the ORM tables, and migrations."""
