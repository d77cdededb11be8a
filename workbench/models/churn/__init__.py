"""Churn: features from usage or a dataset, training and scoring, and the model report."""
