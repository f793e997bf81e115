"""`python -m dev.prometheus`: the local Prometheus of `make dev` (see launcher.py)."""

import sys

from dev.prometheus.launcher import main

if __name__ == "__main__":
    sys.exit(main())
