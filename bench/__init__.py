"""Benchmarks: scripts that print their figures (never timed assertions in tests).

The ``bench`` Django app holds only the baseline endpoint the ingest benchmark compares with.
"""
