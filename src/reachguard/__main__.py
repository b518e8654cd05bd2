"""`python -m reachguard …`: the same CLI as the installed `reachguard` script (e.g. where only
the interpreter is on PATH)."""

from reachguard.cli import main

if __name__ == "__main__":
    main()
