"""`python -m dev.token <user>` (`make token USER=alice`): print an access token for a local user.

The token comes from the local OIDC server of `make dev` (it is never started from here), so
anyone can call the orders API with curl:

    curl -H "Authorization: Bearer $(python -m dev.token alice)" http://127.0.0.1:7072/cart

Only the token goes to stdout; errors go to stderr with exit status 1.
"""

import argparse
import os
import sys
from pathlib import Path

from dev.oidc.launcher import ISSUER, ISSUER_ENV, OidcError, fetch_token


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dev.token", description="Print an access token for a local user."
    )
    parser.add_argument("user", help="any local user name, e.g. alice (no password)")
    parser.add_argument(
        "--issuer",
        default=os.environ.get(ISSUER_ENV) or ISSUER,
        help=f"issuer of the running local OIDC server (env {ISSUER_ENV}, default {ISSUER})",
    )
    parser.add_argument(
        "--ca-bundle",
        type=Path,
        help="CA bundle that trusts the server (default: .dev/certs/ca-bundle.pem)",
    )
    args = parser.parse_args(argv)
    try:
        token = fetch_token(args.user, args.issuer, args.ca_bundle)
    except OidcError as exc:
        print(f"dev.token: {exc}", file=sys.stderr)
        return 1
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
