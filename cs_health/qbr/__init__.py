"""Client reports and QBRs: build from the database, render, archive, serve and e-mail."""
