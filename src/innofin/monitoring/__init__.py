"""Monitoring: balances, growth, targets and forecasts, funnels and institution scorecards,
scenarios, and the reports people circulate — all derived from the ledger and matching, never a
second source of truth."""
