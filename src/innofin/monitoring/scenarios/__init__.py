"""Scenarios: the loan book simulated month by month under levers; stored runs."""
