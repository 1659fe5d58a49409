"""The balance cube: one reading of the ledger's history, month-end balances at any grouping, growth
and quota use, and what a snapshot derives kept beside it."""
