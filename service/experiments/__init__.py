"""Experiments: one submitted ablation grid, its expansion, life cycle and results."""
