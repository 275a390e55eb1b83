"""Torch building blocks that methods (``baselines/``) and metrics (``benchmark/metrics/``) share: networks,
priors and losses from the papers. They live in the engine so that no metric imports a method module."""
