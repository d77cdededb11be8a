"""Forecasts: the methods and the training, backtest and scoring service."""
