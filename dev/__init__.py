"""Local development tooling: `make dev` (stack.py, Procfile), `make token` (token.py) and one
folder per local stand-in (oidc/, cosmos/, postgres/), each with its Python launcher.

See docs/architecture.md, "Local stand-ins".
"""
