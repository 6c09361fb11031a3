"""Reusable test helpers: the token issuer (``issuer.py``) and its pytest fixtures (``fixtures_auth.py``)."""
