"""Matching: financing needs, eligibility, two-sided recommendations, referrals, allocation."""
