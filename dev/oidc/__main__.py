"""`python -m dev.oidc`: run the local OIDC provider in the foreground (the Procfile's `oidc`)."""

import sys

from dev.oidc.launcher import main

sys.exit(main())
