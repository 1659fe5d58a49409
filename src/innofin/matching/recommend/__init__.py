"""Recommendations both ways: eligibility, track records, pre-checks, the back-test."""
