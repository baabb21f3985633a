"""Domain and application errors every service maps to RFC 9457 problems."""

from __future__ import annotations

from services.kit.transient import TransientError


class DomainError(Exception):
    """A command broke a business rule (HTTP 422)."""

    status = 422
    code = "rule-violated"


class NotFoundError(DomainError):
    """The aggregate named by a command does not exist."""

    status = 404
    code = "not-found"


class ConflictError(DomainError):
    """The command conflicts with the current state (HTTP 409)."""

    status = 409
    code = "conflict"


class VersionConflictError(ConflictError, TransientError):
    """Concurrent commands kept winning the version race until the retry budget ran out.

    Unlike a business rule's refusal (a full shift), the same command may pass on fresh
    state a moment later: a reaction retries it instead of dead-lettering its event.
    HTTP clients see the same 409 `conflict` as before.
    """


class StaleVersionError(ConflictError):
    """The expected version given by the client is not the current version."""

    code = "stale-version"


class IdempotencyKeyReusedError(DomainError):
    """An Idempotency-Key was reused with a different request."""

    status = 422
    code = "idempotency-key-reused"


class ForbiddenError(DomainError):
    """The caller's role, department or scope does not allow this command."""

    status = 403
    code = "forbidden"
