"""The referral funnel and the institutions' scorecards."""
