"""Forecasts: the methods and the training, backtest and scoring service."""

# The methods, named here (no heavy import) for the command line and the pages; `methods` runs them.
STATISTICAL = ("seasonal_naive", "naive", "drift", "ets", "theta", "arima", "mstl")
METHODS = (*STATISTICAL, "gbm", "combination")
FREQUENCY_NAMES = ("hourly", "daily", "weekly", "monthly", "quarterly", "yearly")  # as in `frequency`
