"""Bearer tokens: the dev issuer's tokens verify; anything else is refused."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest

from services.kit.auth import AuthError, DevIssuer, JwksVerifier


@pytest.fixture
def issuer(tmp_path: Path) -> DevIssuer:
    return DevIssuer(tmp_path / "keys")


@pytest.fixture
def verifier(issuer: DevIssuer) -> JwksVerifier:
    return JwksVerifier(str(issuer.jwks_path), issuer="tongxin-dev", audience="tongxin")


def test_a_dev_token_verifies(issuer: DevIssuer, verifier: JwksVerifier) -> None:
    token = issuer.token(role="coordinator", subject="li", department="cyl", scope="school:s1")
    principal = verifier.verify(token)
    assert (principal.subject, principal.role, principal.department) == ("li", "coordinator", "cyl")
    assert principal.scope == ("school:s1",)
    assert principal.covers_school("s1") and not principal.covers_school("s2")


def test_the_key_survives_a_restart(issuer: DevIssuer, tmp_path: Path) -> None:
    again = DevIssuer(tmp_path / "keys")
    assert again.kid == issuer.kid
    verifier = JwksVerifier(str(again.jwks_path), issuer="tongxin-dev", audience="tongxin")
    verifier.verify(issuer.token(role="viewer"))


def test_a_forged_signature_is_refused(verifier: JwksVerifier, tmp_path: Path) -> None:
    forger = DevIssuer(tmp_path / "other-keys")
    forged = forger.token(role="admin")
    header, payload, _ = forged.split(".")
    real_kid = DevIssuer(tmp_path / "keys").kid
    # Signed by another key but claiming the real key id.
    claims = jwt.decode(forged, options={"verify_signature": False})
    with pytest.raises(AuthError):
        verifier.verify(
            jwt.encode(claims, forger._key, algorithm="RS256", headers={"kid": real_kid})
        )
    with pytest.raises(AuthError):
        verifier.verify(forged)  # unknown key id
    with pytest.raises(AuthError):
        verifier.verify(f"{header}.{payload}.")  # no signature


def test_wrong_audience_or_issuer(tmp_path: Path, issuer: DevIssuer) -> None:
    token = issuer.token(role="viewer")
    for kwargs in (
        {"issuer": "tongxin-dev", "audience": "other"},
        {"issuer": "x", "audience": "tongxin"},
    ):
        with pytest.raises(AuthError):
            JwksVerifier(str(issuer.jwks_path), **kwargs).verify(token)


def test_an_expired_token_is_refused(issuer: DevIssuer, verifier: JwksVerifier) -> None:
    token = issuer.token(role="viewer", ttl_s=-120)
    with pytest.raises(AuthError, match="expired|invalid"):
        verifier.verify(token)


def test_an_unknown_role_is_refused(issuer: DevIssuer, verifier: JwksVerifier) -> None:
    with pytest.raises(ValueError):
        issuer.token(role="superuser")
    now = int(time.time())
    claims = {
        "iss": "tongxin-dev",
        "aud": "tongxin",
        "sub": "x",
        "iat": now,
        "exp": now + 60,
        "role": "superuser",
    }
    token = jwt.encode(claims, issuer._key, algorithm="RS256", headers={"kid": issuer.kid})
    with pytest.raises(AuthError, match="unknown role"):
        verifier.verify(token)


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c"])
def test_missing_or_malformed_tokens_are_refused(verifier: JwksVerifier, token: str) -> None:
    with pytest.raises(AuthError):
        verifier.verify(token)


def _counting(verifier: JwksVerifier) -> list[str]:
    calls: list[str] = []
    check = verifier._verify

    def counted(token: str):  # type: ignore[no-untyped-def]
        calls.append(token)
        return check(token)

    verifier._verify = counted  # type: ignore[method-assign]
    return calls


def test_a_verified_token_is_not_checked_again_for_a_while(
    issuer: DevIssuer, verifier: JwksVerifier
) -> None:
    calls = _counting(verifier)
    token = issuer.token(role="viewer", subject="wang")
    assert verifier.verify(token) == verifier.verify(token)
    assert calls == [token]

    verifier.VERIFIED_TTL_S = 0.0  # a withdrawn key must stop working: checked again
    verifier._verified.clear()
    verifier.verify(token)
    verifier.verify(token)
    assert len(calls) == 3


def test_a_cached_token_still_expires(issuer: DevIssuer, verifier: JwksVerifier) -> None:
    token = issuer.token(role="viewer", ttl_s=2)
    verifier.verify(token)
    expires_at = jwt.decode(token, options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, expires_at - time.time()) + 0.2)
    with pytest.raises(AuthError, match="expired|invalid"):
        verifier.verify(token)


def test_refusals_are_not_remembered_as_verified(issuer: DevIssuer, tmp_path: Path) -> None:
    other = DevIssuer(tmp_path / "other-keys")
    verifier = JwksVerifier(str(issuer.jwks_path), issuer="tongxin-dev", audience="tongxin")
    forged = other.token(role="admin")
    for _ in range(2):
        with pytest.raises(AuthError):
            verifier.verify(forged)
    assert not verifier._verified


def test_only_a_token_verified_a_moment_ago_is_known_without_a_check(
    issuer: DevIssuer, verifier: JwksVerifier
) -> None:
    # The HTTP dependency answers these on the event loop, and sends the rest to a thread.
    token = issuer.token(role="viewer", subject="li")
    assert verifier.recently_verified(token) is None
    principal = verifier.verify(token)
    assert verifier.recently_verified(token) == principal
    verifier.VERIFIED_TTL_S = 0.0
    verifier._verified.clear()
    verifier.verify(token)
    assert verifier.recently_verified(token) is None
