"""Solutions of the exercises in exercises/, for tests/test_exercises.py: each subclasses the
skeleton (so the forward stays the skeleton's) and writes only the backward."""
