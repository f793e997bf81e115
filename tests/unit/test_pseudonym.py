"""The worker's log pseudonym of a user (functions/shared/pseudonym.py): keyed, so that only
whoever holds the key can find a shopper's lines; without a key, none at all."""

import hashlib
import hmac
import logging

import pytest

from functions.shared.pseudonym import pseudonym
from functions.worker.activities import LogMailer


def test_a_pseudonym_is_the_keyed_hash_and_differs_with_the_key(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LOG_PSEUDONYM_KEY", "k1")
    first = pseudonym("alice")
    assert first == hmac.new(b"k1", b"alice", hashlib.sha256).hexdigest()[:16]
    monkeypatch.setenv("LOG_PSEUDONYM_KEY", "k2")
    assert pseudonym("alice") != first


def test_without_a_key_there_is_no_pseudonym_to_reverse(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("LOG_PSEUDONYM_KEY", raising=False)
    assert pseudonym("alice") is None


@pytest.mark.parametrize("key", [None, "k1"])
def test_the_email_log_line_names_the_user_only_by_a_keyed_pseudonym(
    key: str | None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    if key is None:
        monkeypatch.delenv("LOG_PSEUDONYM_KEY", raising=False)
    else:
        monkeypatch.setenv("LOG_PSEUDONYM_KEY", key)
    caplog.set_level(logging.INFO, logger="tinyshop.worker")

    order = {"orderId": "o-1", "total": "1.00"}
    LogMailer().send("alice", "Your order", "o-1:ConfirmationEmailSent", order)

    [line] = [r for r in caplog.records if r.getMessage() == "confirmation e-mail sent"]
    assert getattr(line, "user_ref", None) == (None if key is None else pseudonym("alice"))
    assert "alice" not in str(line.__dict__)
