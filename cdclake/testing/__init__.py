"""Honest doubles for what cannot run on a developer machine (a MongoDB replica set)."""
