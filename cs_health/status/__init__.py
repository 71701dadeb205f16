"""What is in the database and how fresh it is (`cs-health status`)."""
