"""Accepted tokens are remembered briefly (auth.py): repeats skip the signature check, but no
refusal is remembered, nothing outlives the token's `exp` or TOKEN_MEMORY_SECONDS, and the
memory is bounded."""

import pytest

from dev.issuer import Issuer
from functions.orders import auth
from functions.orders.auth import TokenValidator
from functions.shared.problems import Problem


@pytest.fixture
def validator(issuer: Issuer) -> TokenValidator:
    return TokenValidator(issuer.url, "api://tinyshop-orders", "Orders.ReadWrite")


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import time

        self.now = time.time()
        monkeypatch.setattr(auth.time, "time", lambda: self.now)


def test_an_accepted_token_is_answered_from_memory_without_decoding_it(
    validator: TokenValidator, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
):
    token = issuer.token("memory-user")
    first = validator.validate(token)

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded again")

    monkeypatch.setattr(auth.jwt, "decode", no_decoding)
    monkeypatch.setattr(auth.jwt, "get_unverified_header", no_decoding)
    assert validator.validate(token) == first
    assert validator.remembered(token) == first


def test_a_refused_token_is_not_remembered(validator: TokenValidator, issuer: Issuer):
    token = issuer.token("no-scope", scp="Other.Scope")
    for _ in range(2):
        with pytest.raises(Problem) as refused:
            validator.validate(token)
        assert refused.value.status == 403
    assert validator.remembered(token) is None


def test_memory_ends_after_its_period(
    validator: TokenValidator, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
):
    clock = Clock(monkeypatch)
    token = issuer.token("memory-period", lifetime=3600)
    validator.validate(token)
    clock.now += auth.TOKEN_MEMORY_SECONDS - 1
    assert validator.remembered(token) is not None
    clock.now += 2
    assert validator.remembered(token) is None


def test_memory_never_outlives_the_tokens_exp(
    validator: TokenValidator, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
):
    clock = Clock(monkeypatch)
    token = issuer.token("memory-exp", lifetime=5)
    validator.validate(token)
    clock.now += 6  # expired (still inside the validation leeway, but not remembered)
    assert validator.remembered(token) is None


def test_memory_is_bounded(
    validator: TokenValidator, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(auth, "TOKEN_MEMORY_SIZE", 3)
    tokens = [issuer.token(f"memory-{n}") for n in range(4)]
    for token in tokens:
        validator.validate(token)
    assert validator.remembered(tokens[0]) is None
    assert all(validator.remembered(t) is not None for t in tokens[1:])
