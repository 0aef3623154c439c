"""`python -m sarportal`: the same as the `sarportal` command."""

from sarportal.cli import main

main()
