"""Innovation points (创新积分): indicator systems, scoring runs, key lists, pilot zones."""
