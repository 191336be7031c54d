"""`python -m shared.cli` runs the `zeroshop` command."""

from . import main

# Guarded: a process forked by `zeroshop up` (shared/forkserver.py) imports the supervisor's
# main module again, and must not run the command a second time.
if __name__ == "__main__":
    main()
