"""massagectl's benchmarks: every figure is a ratio against a baseline measured in the same run.

Run ``python -m bench`` from the repository root (``--quick`` for the short version CI runs).
"""
