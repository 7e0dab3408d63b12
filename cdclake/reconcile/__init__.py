"""Reconciliation of the Iceberg current state against MongoDB (secondaries only).

``canonical`` holds the one definition of "the same document" that both sides use.
"""
