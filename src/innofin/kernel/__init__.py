"""Shared value types: money, identifiers, reference codes, errors, settings.

The kernel imports nothing else of innofin's, so every capability can rely on it.
"""
