"""Datasets, samplers, the DataLoader, transforms and sample data."""
