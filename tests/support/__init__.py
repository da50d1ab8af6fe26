"""Helpers the test modules import: one module per thing they help with (never a conftest)."""
