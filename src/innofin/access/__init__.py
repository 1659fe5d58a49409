"""Users, sign-in, roles and who may see what (the policy), consent and referrals."""
