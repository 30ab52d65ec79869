"""Baselines the M2S paper compares against (SPEC.md §5), as scikit-learn estimators."""
