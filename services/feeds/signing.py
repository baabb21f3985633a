"""Standard Webhooks signatures: signing every delivery, and verifying on the partner's side.

A message is signed with every current secret of its endpoint (`v1,<base64>` each,
space separated), so a receiver that still knows only the old secret keeps verifying
during a rotation's grace period.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

__all__ = [
    "CONTENT_TYPE",
    "WebhookVerificationError",
    "new_secret",
    "signatures",
    "signed_headers",
    "verify",
]

CONTENT_TYPE = "application/cloudevents+json"


def new_secret() -> str:
    """A fresh endpoint secret, `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def signed_headers(
    message_id: str, body: str, endpoint_secrets: Sequence[str], at: datetime | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt.

    The timestamp is the wall clock's, not the scheduling clock's: receivers check it
    against their own clock (5 minutes' tolerance).
    """
    when = at or datetime.now(UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signatures(message_id, body, endpoint_secrets, when),
        "content-type": CONTENT_TYPE,
    }


def signatures(message_id: str, body: str, endpoint_secrets: Sequence[str], at: datetime) -> str:
    """The `webhook-signature` header's value: `v1,<base64>` per secret, space separated."""
    return " ".join(_webhook(s).sign(message_id, at, body) for s in endpoint_secrets)


@lru_cache(maxsize=1024)
def _webhook(secret: str) -> Webhook:
    """A signer per secret, made once (it decodes the secret)."""
    return Webhook(secret)


def verify(body: bytes | str, headers: Mapping[str, str], endpoint_secrets: Sequence[str]) -> Any:
    """The partner's side: the parsed body if one of its secrets signed it, else raise.

    In constant time per signature and within 5 minutes of the receiver's clock (the
    `standardwebhooks` library's checks); several secrets let a receiver rotate too.
    """
    error: WebhookVerificationError | None = None
    for secret in endpoint_secrets:
        try:
            return Webhook(secret).verify(body, dict(headers))
        except WebhookVerificationError as exc:
            error = exc
    raise error or WebhookVerificationError("no secret to verify with")
