"""Sealed payloads: only the receiving service opens them, and refusals say why."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc import jwe
from joserfc.jwk import ECKey, RSAKey

from services.kit.privacy.sealing import (
    ALG,
    ENC,
    SealError,
    SealingKeys,
    check_envelope,
    jwks_router,
    open_sealed,
    seal,
)
from services.kit.settings import Settings

REFERRAL = {"child_name": "陈小红", "id_number": "321002201501010000", "reason": "neglect"}


@pytest.fixture(scope="module")
def care() -> SealingKeys:
    return SealingKeys.generate()


@pytest.fixture(scope="module")
def other() -> SealingKeys:
    return SealingKeys.generate()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def header_of(token: str) -> dict[str, object]:
    part = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def with_header(token: str, **changes: object) -> str:
    header = header_of(token) | changes
    return ".".join([b64(json.dumps(header).encode()), *token.split(".")[1:]])


def test_only_the_receiving_service_opens(care: SealingKeys, other: SealingKeys) -> None:
    token = seal(REFERRAL, care.jwks())
    header = header_of(token)
    assert (header["alg"], header["enc"], header["kid"]) == (ALG, ENC, care.kids[0])
    assert "陈小红" not in token and "neglect" not in token
    assert json.loads(open_sealed(token, care)) == REFERRAL
    assert care.open(seal(b"\x00raw bytes", care.jwks())) == b"\x00raw bytes"

    with pytest.raises(SealError, match="not one of the receiving service's keys"):
        open_sealed(token, other)


def test_nothing_is_sealed_to_nobody(care: SealingKeys) -> None:
    with pytest.raises(SealError, match="empty"):
        seal(b"", care.jwks())
    with pytest.raises(SealError, match="no EC P-256"):
        seal(REFERRAL, {"keys": [{"kty": "RSA", "kid": "r", "n": "x", "e": "AQAB"}]})
    with pytest.raises(SealError, match="no key 'nope'"):
        seal(REFERRAL, care.jwks(), kid="nope")


def test_a_token_sealed_to_another_key_under_our_kid_is_refused(
    care: SealingKeys, other: SealingKeys
) -> None:
    # The sender used another key but wrote our kid in the header.
    forged = with_header(seal(REFERRAL, other.jwks()), kid=care.kids[0])
    check_envelope(forged, care.jwks())  # well formed: only opening can tell
    with pytest.raises(SealError, match="does not open with key"):
        open_sealed(forged, care)


def test_a_wrong_algorithm_or_encryption_is_refused(care: SealingKeys) -> None:
    public = ECKey.import_key(care.jwks()["keys"][0])
    for alg, enc in [("ECDH-ES", "A256GCM"), ("ECDH-ES+A128KW", "A256GCM"), (ALG, "A128GCM")]:
        token = jwe.encrypt_compact(
            {"alg": alg, "enc": enc, "kid": care.kids[0]}, b"x", public, algorithms=[alg, enc]
        )
        with pytest.raises(SealError, match="only alg="):
            open_sealed(token, care)
    rsa = RSAKey.generate_key(2048, private=True)
    token = jwe.encrypt_compact(
        {"alg": "RSA-OAEP-256", "enc": ENC, "kid": care.kids[0]},
        b"x",
        rsa,
        algorithms=["RSA-OAEP-256", ENC],
    )
    with pytest.raises(SealError, match="only alg="):
        open_sealed(token, care)


def test_an_altered_token_is_refused(care: SealingKeys) -> None:
    token = seal(REFERRAL, care.jwks())
    head, wrapped, iv, ciphertext, tag = token.split(".")
    flipped = ("B" if ciphertext[0] != "B" else "C") + ciphertext[1:]
    with pytest.raises(SealError, match="does not open"):
        open_sealed(".".join([head, wrapped, iv, flipped, tag]), care)
    with pytest.raises(SealError):
        open_sealed(with_header(token, cty="text/plain"), care)  # the header is authenticated


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda t: "", "five dot-separated parts"),
        (lambda t: "garbage", "five dot-separated parts"),
        (lambda t: b64(b"not json") + ".b.c.d.e", "not JSON"),
        (lambda t: "a.b.c.d.e", "not base64url"),
        (lambda t: "x" * (1024 * 1024 + 1), "too long"),
        (lambda t: with_header(t, zip="DEF"), "not accepted: zip"),
        (lambda t: with_header(t, crit=["exp"]), "not accepted: crit"),
        (lambda t: with_header(t, kid=None), "names no key"),
        (lambda t: with_header(t, epk={"kty": "EC", "crv": "P-384"}), "not an EC P-256 key"),
        (
            lambda t: with_header(
                t, epk={"kty": "EC", "crv": "P-256", "x": b64(b"\1" * 32), "y": b64(b"\2" * 32)}
            ),
            "not a point on P-256",
        ),
        (
            lambda t: ".".join([*t.split(".")[:2], b64(b"short"), *t.split(".")[3:]]),
            "initialisation vector",
        ),
        (lambda t: ".".join([*t.split(".")[:4], b64(b"\0" * 8)]), "authentication tag"),
        (lambda t: ".".join([t.split(".")[0], "", *t.split(".")[2:]]), "empty or padded"),
    ],
)
def test_malformed_envelopes_are_refused_without_the_private_key(
    care: SealingKeys, mutate: object, reason: str
) -> None:
    token = seal(REFERRAL, care.jwks())
    bad = mutate(token)  # type: ignore[operator]
    with pytest.raises(SealError, match=reason):
        check_envelope(bad, care.jwks())
    with pytest.raises(SealError):
        open_sealed(bad, care)


def test_the_envelope_check_accepts_a_good_token_without_private_keys(care: SealingKeys) -> None:
    public_only = json.loads(json.dumps(care.jwks()))
    assert all("d" not in key for key in public_only["keys"])
    envelope = check_envelope(seal(REFERRAL, public_only), public_only)
    assert envelope.kid == care.kids[0]


def test_keys_are_made_once_0600_and_rotate(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    first = SealingKeys.load(settings, "care")
    path = tmp_path / "state" / "keys" / "care-sealing-key.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SealingKeys.load(settings, "care").kids == first.kids
    old_token = seal(REFERRAL, first.jwks())

    # Rotation: a new key first in the file, the old one kept to open what is in flight.
    new = SealingKeys.generate()
    secret = tmp_path / "secret.pem"
    secret.write_bytes(new.as_pem() + first.as_pem())
    both = SealingKeys.load(settings, "care", key_file=secret)
    assert both.kids == new.kids + first.kids
    assert [k["kid"] for k in both.jwks()["keys"]] == both.kids
    assert header_of(seal(REFERRAL, both.jwks()))["kid"] == new.kids[0]
    assert json.loads(both.open(old_token)) == REFERRAL


def test_a_public_or_foreign_key_file_is_refused(tmp_path: Path, care: SealingKeys) -> None:
    public = tmp_path / "public.pem"
    public.write_bytes(ECKey.import_key(care.jwks()["keys"][0]).as_pem(private=False))
    with pytest.raises(ValueError, match="private keys"):
        SealingKeys.load(Settings(state_dir=tmp_path), "care", key_file=public)


def test_the_jwks_route_serves_public_keys_only(care: SealingKeys) -> None:
    app = FastAPI()
    app.include_router(jwks_router(care))
    document = TestClient(app).get("/.well-known/jwks.json").json()
    assert document == care.jwks()
    assert {"d"} & set(document["keys"][0]) == set()
    assert document["keys"][0]["use"] == "enc" and document["keys"][0]["alg"] == ALG
