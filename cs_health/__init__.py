"""cs-health: customer-success health monitoring for SaaS companies (the shell: storage, ingestion, API, CLI)."""

__version__ = "0.1.0"
