"""The issuer's value may end with "/" (Entra v1's do) and the API may be configured with or
without it: discovery drops it before appending the well-known path, and a token must name the
issuer exactly as the issuer's own discovery document does (auth.py)."""

import pytest

from dev.issuer import AUDIENCE, SCOPE, running_issuer
from functions.orders.auth import TokenValidator
from functions.shared.problems import Problem


@pytest.mark.parametrize("issuer_ends_with_slash", [True, False])
@pytest.mark.parametrize("configured_with_slash", [True, False])
def test_a_token_is_accepted_however_the_trailing_slash_is_configured(
    issuer_ends_with_slash: bool, configured_with_slash: bool
):
    with running_issuer(trailing_slash=issuer_ends_with_slash) as issuer:
        configured = issuer.url.rstrip("/") + "/" * configured_with_slash
        validator = TokenValidator(configured, AUDIENCE, SCOPE)
        assert validator.validate(issuer.token("slash-user")).user_id == "slash-user"


@pytest.mark.parametrize("configured_with_slash", [True, False])
def test_a_token_naming_the_issuer_otherwise_than_its_discovery_document_is_refused(
    configured_with_slash: bool,
):
    with running_issuer(trailing_slash=True) as issuer:
        configured = issuer.url.rstrip("/") + "/" * configured_with_slash
        validator = TokenValidator(configured, AUDIENCE, SCOPE)
        token = issuer.token("slash-user", iss=issuer.url.rstrip("/"))
        with pytest.raises(Problem) as refused:
            validator.validate(token)
        assert (refused.value.status, refused.value.detail) == (
            401,
            "The token is from another issuer.",
        )
