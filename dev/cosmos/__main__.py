"""`python -m dev.cosmos`: the Cosmos DB stand-in in the foreground (the Procfile's `cosmos`)."""

import sys

from dev.cosmos.launcher import main

sys.exit(main())
