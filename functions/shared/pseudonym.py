"""User ids never appear in telemetry: spans carry none, and a log line that must say whose
order it was carries a pseudonym instead.

The pseudonym is a keyed hash (HMAC-SHA-256, first 16 hex digits) of the id. Support can
compute it for a shopper who writes in (`python -c "from functions.shared.pseudonym import
pseudonym; print(pseudonym('<sub>'))"` with the same key) and find their log lines; nobody can
go back from a log line to the id. `LOG_PSEUDONYM_KEY` (from Key Vault) keys it in production;
without it the hash is unkeyed, which is enough for local development.
"""

import hashlib
import hmac
import os


def pseudonym(user_id: str) -> str:
    key = os.getenv("LOG_PSEUDONYM_KEY", "tinyshop").encode()
    return hmac.new(key, user_id.encode(), hashlib.sha256).hexdigest()[:16]
