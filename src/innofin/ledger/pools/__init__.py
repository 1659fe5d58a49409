"""Risk-compensation pools: contributions, claims, payouts, recoveries, positions."""
