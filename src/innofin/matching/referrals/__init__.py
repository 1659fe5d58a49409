"""Referrals of needs: consent, deadlines, answers, decline reasons, re-matches, the funnel."""
