"""Dialects: the wire formats of model endpoints (see ``base.py`` for the seam, ``registry.py``
for the list the app serves)."""
