"""Programme targets: progress, forecasts chosen by a back-test, the probability of meeting each."""
