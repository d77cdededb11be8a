"""Models: tabular datasets, churn and forecast training and scoring, and the MLflow model registry."""
