"""Credit lines, drawdowns, repayments, classification, defaults, write-offs, recoveries."""
