"""The local OIDC provider (Entra External ID stand-in): `server.js` and its Python launcher
(`launcher.py`), with the local certificate authority behind its https (`certificates.py`)."""
