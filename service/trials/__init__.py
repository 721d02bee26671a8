"""Trials: one cell of a grid (variant x sweep point x seed), its progress, curve and result."""
