"""What tests know about the local OIDC provider's users (dev/oidc/server.js computes the same)."""

import uuid


def subject_for(user: str) -> str:
    """The stable `sub` (and `oid`) of a local user: uuid5 of the lower-cased user name.

    A uuid rather than the name itself, because Entra's subjects are opaque ids too: code that
    needs a display name must read `name`/`preferred_username`, not parse `sub`.
    """
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:tinyshop:local-user:{user.strip().lower()}"))
