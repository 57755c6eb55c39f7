"""`python -m hktune ...` is the `hktune` command."""
from hktune.commands import main

if __name__ == "__main__":
    main()
