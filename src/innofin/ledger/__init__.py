"""The programme ledger: programmes, agreements, credit lines, loans, risk pools, subsidies."""
