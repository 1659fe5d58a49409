"""Financing needs: posted by an enterprise or on its behalf, changed, listed."""
