"""Usage forecasts and churn predictions in the shell: train, predict, store, and serve portfolio figures."""
