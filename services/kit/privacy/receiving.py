"""A service that receives sealed payloads: the runtime gives it its sealing keys.

An application declaring `sealing: SealingKeys | None` gets the service's keys loaded by
the runtime (`services.kit.runtime.ServiceParts`, every process of the service: its
reactions open what departments sealed to it), and its API serves the public halves at
`/.well-known/jwks.json`, where senders and the ingest read them.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from services.kit.privacy.sealing import SealingKeys


@runtime_checkable
class ReceivesSealed(Protocol):
    """An application that opens payloads sealed to its service."""

    sealing: SealingKeys | None
