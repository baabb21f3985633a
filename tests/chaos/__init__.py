"""Chaos: load the platform's public API while killing its processes; nothing acknowledged is lost.

`python -m tests.chaos --help` (or `make chaos ARGS=...`); tests/e2e/test_chaos.py runs a
small variant inside the test suite.
"""
