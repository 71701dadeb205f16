"""The audit log: key, user, override, scorecard, alert-rule and export events, written with the change itself."""
