"""Backward-pass exercises: one skeleton per layer, the backward left for you.
See README.md in this folder; check a file with ``python -m tinynet.exercises FILE``."""
