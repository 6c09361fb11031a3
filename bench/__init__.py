"""Skein's load benchmark: fake upstream, targets, driver and report (see bench/README.md)."""
