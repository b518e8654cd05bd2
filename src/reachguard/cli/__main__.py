"""`python -m reachguard.cli …`: the same CLI as the installed `reachguard` script."""

from reachguard.cli import main

if __name__ == "__main__":
    main()
