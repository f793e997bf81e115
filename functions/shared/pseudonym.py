"""User ids never appear in telemetry: spans carry none, and a log line that must say whose
order it was carries a pseudonym instead.

The pseudonym is a keyed hash (HMAC-SHA-256, first 16 hex digits) of the id. Support can
compute it for a shopper who writes in (`python -c "from functions.shared.pseudonym import
pseudonym; print(pseudonym('<sub>'))"` with the same key) and find their log lines; without the
key nobody can go back from a log line to the id. The key is `LOG_PSEUDONYM_KEY`: in the cluster
the Key Vault secret `log-pseudonym-key` (the chart's worker SecretProviderClass), locally one
`make dev` sets. Without it there is no pseudonym at all: a hash under no key, or under a key
written in this file, is reversed by hashing candidate ids.
"""

import hashlib
import hmac
import os


def pseudonym(user_id: str) -> str | None:
    """The user's pseudonym, or None when no key is configured (log none then)."""
    key = os.getenv("LOG_PSEUDONYM_KEY")
    if not key:
        return None
    return hmac.new(key.encode(), user_id.encode(), hashlib.sha256).hexdigest()[:16]
