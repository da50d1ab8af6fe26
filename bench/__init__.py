"""opsdb bench: pgbench baselines and domain scenarios on a dedicated throw-away cluster.

``make bench`` (``python -m bench``) runs them all; see bench/README.md.
"""
