"""Presets: the paper's ablation tables, served read-only from ``ablations/presets``."""
