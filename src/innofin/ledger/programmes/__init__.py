"""Programmes and their targets, cooperation agreements and commitments, programme files."""
