"""Special-credit allocation: the model on HiGHS, exact money, runs proposed as credit lines."""
