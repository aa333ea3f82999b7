"""Signed action links: they round-trip, expire, and any other token is "invalid" (never another error)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oncall import links
from oncall.links import DEFAULT_TTL, InvalidLink, LinkClaims, action_url, sign, signing_key, verify
from oncall.settings import Env, Settings

KEY = b"k" * 32
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LATER = NOW + DEFAULT_TTL


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(claims: object, key: bytes = KEY) -> str:
    """A token with a valid MAC over arbitrary claims (what only a key holder could make)."""
    body = b64(json.dumps(claims).encode())
    return f"{body}.{b64(hmac.new(key, body.encode(), hashlib.sha256).digest())}"


def reason(token: object, key: bytes = KEY, now: datetime = NOW) -> str:
    with pytest.raises(InvalidLink) as caught:
        verify(token, key, now)  # type: ignore[arg-type]
    assert str(caught.value) == caught.value.reason
    return caught.value.reason


def test_round_trip() -> None:
    token = sign("acknowledge", "IABCDEFGHJKLM", "UABCDEFGHJKLM", LATER, KEY)
    assert verify(token, KEY, NOW) == LinkClaims("acknowledge", "IABCDEFGHJKLM", "UABCDEFGHJKLM", LATER)


def test_round_trip_without_a_user_and_for_every_action() -> None:
    for action in ("acknowledge", "resolve", "silence"):
        assert verify(sign(action, "I1", None, LATER, KEY), KEY, NOW) == LinkClaims(action, "I1", None, LATER)


def test_tokens_are_url_safe_and_short() -> None:
    token = sign("acknowledge", "IABCDEFGHJKLM", "UABCDEFGHJKLM", LATER, KEY)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert len(token) < 160


def test_expiry() -> None:
    token = sign("resolve", "I1", "U1", LATER, KEY)
    assert verify(token, KEY, LATER - timedelta(seconds=1)).group_id == "I1"
    assert reason(token, now=LATER) == "expired"
    assert reason(token, now=LATER + timedelta(days=400)) == "expired"


def test_an_expired_forgery_is_invalid_not_expired() -> None:
    token = sign("resolve", "I1", "U1", NOW - timedelta(hours=1), b"other key")
    assert reason(token) == "invalid"


def test_wrong_key() -> None:
    assert reason(sign("acknowledge", "I1", "U1", LATER, KEY), key=b"another key") == "invalid"


def test_tampered_claims() -> None:
    token = sign("acknowledge", "I1", "U1", LATER, KEY)
    _, signature = token.split(".")
    for claims in (
        {"a": "resolve", "g": "I1", "u": "U1", "e": int(LATER.timestamp())},  # another action
        {"a": "acknowledge", "g": "I2", "u": "U1", "e": int(LATER.timestamp())},  # another group
        {"a": "acknowledge", "g": "I1", "u": "U1", "e": int(LATER.timestamp()) + 86400},  # a longer life
    ):
        assert reason(f"{b64(json.dumps(claims, separators=(',', ':')).encode())}.{signature}") == "invalid"


def test_tampered_signature() -> None:
    body, signature = sign("acknowledge", "I1", "U1", LATER, KEY).split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert reason(f"{body}.{flipped}") == "invalid"
    assert reason(f"{body}.{signature[:-1]}") == "invalid"
    assert reason(f"{body}.{signature}=") == "invalid"  # another spelling of the same bytes
    assert reason(f"{body}.") == "invalid"
    assert reason(body) == "invalid"


@pytest.mark.parametrize(
    "token",
    ["", ".", "..", "abc", "a.b", "a.b.c", "%%%.%%%", "é.é", "x" * 5000, None, 42, b"a.b", ["a", "b"]],
)
def test_garbage(token: object) -> None:
    assert reason(token) == "invalid"


@pytest.mark.parametrize(
    "claims",
    [
        [],
        "text",
        {"a": "delete", "g": "I1", "e": 4102444800},  # not an action links can do
        {"a": "acknowledge", "e": 4102444800},
        {"a": "acknowledge", "g": "", "e": 4102444800},
        {"a": "acknowledge", "g": 5, "e": 4102444800},
        {"a": "acknowledge", "g": "I1", "u": 7, "e": 4102444800},
        {"a": "acknowledge", "g": "I1", "e": "tomorrow"},
        {"a": "acknowledge", "g": "I1", "e": True},
        {"a": "acknowledge", "g": "I1", "e": 10**30},
        {"a": ["acknowledge"], "g": "I1", "e": 4102444800},
    ],
)
def test_signed_but_malformed_claims_are_invalid(claims: object) -> None:
    assert reason(signed(claims)) == "invalid"


def test_signed_non_json_is_invalid() -> None:
    body = b64(b"\xff\xfenot json")
    assert reason(f"{body}.{b64(hmac.new(KEY, body.encode(), hashlib.sha256).digest())}") == "invalid"


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_random_text_is_invalid(token: str) -> None:
    assert reason(token) == "invalid"


TOKEN = sign("acknowledge", "IABCDEFGHJKLM", "UABCDEFGHJKLM", LATER, KEY)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, len(TOKEN) - 1), st.characters())
def test_any_changed_character_makes_a_token_invalid(position: int, character: str) -> None:
    changed = TOKEN[:position] + character + TOKEN[position + 1 :]
    if changed != TOKEN:
        assert reason(changed) == "invalid"


def test_sign_refuses_what_it_cannot_stand_behind() -> None:
    with pytest.raises(ValueError, match="unknown action"):
        sign("delete", "I1", None, LATER, KEY)
    with pytest.raises(ValueError, match="naive"):
        sign("resolve", "I1", None, datetime(2030, 1, 1), KEY)
    with pytest.raises(ValueError, match="empty"):
        sign("resolve", "I1", None, LATER, b"")


def test_action_url() -> None:
    assert action_url("https://api.example", "abc.def") == "https://api.example/actions/abc.def"


# --- the key --------------------------------------------------------------------------------------------------


@pytest.fixture
def no_key_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(Env.SIGNING_KEY, raising=False)
    monkeypatch.delenv(Env.SIGNING_SECRET_ARN, raising=False)
    links._secret.cache_clear()
    yield
    links._secret.cache_clear()


def test_signing_key_from_the_environment(no_key_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(Env.SIGNING_KEY, "local-key-é")
    assert signing_key(Settings.from_env()) == "local-key-é".encode()


def test_signing_key_missing(no_key_env: None) -> None:
    with pytest.raises(RuntimeError, match="TOCSIN_SIGNING_KEY"):
        signing_key(Settings.from_env())


def test_signing_key_from_secrets_manager_is_read_once(no_key_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import mock_aws

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("secretsmanager")
        arn = client.create_secret(Name="tocsin/signing-key", SecretString="s3cret-from-aws")["ARN"]
        monkeypatch.setenv(Env.SIGNING_SECRET_ARN, arn)
        assert signing_key(Settings.from_env()) == b"s3cret-from-aws"
        client.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
        assert signing_key(Settings.from_env()) == b"s3cret-from-aws"  # cached: no second call
