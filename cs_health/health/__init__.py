"""Health scores in the shell: load the portfolio set-based, score it with models/, store and serve the results."""
