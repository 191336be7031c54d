"""`python -m shared.cli` runs the `zeroshop` command."""

from . import main

main()
