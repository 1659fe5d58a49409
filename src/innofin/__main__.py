"""`python -m innofin` is the `innofin` command."""

from innofin.cli import main

main()
