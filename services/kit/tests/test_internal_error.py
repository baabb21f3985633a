"""A failure the service did not foresee: the 500 answer says only what is known."""

from __future__ import annotations

from pathlib import Path

import httpx

from services.kit.auth import DevIssuer, JwksVerifier
from services.kit.http import create_app
from services.kit.settings import Settings


async def test_a_failure_after_the_commit_is_not_reported_as_nothing_changed(
    tmp_path: Path,
) -> None:
    issuer = DevIssuer(tmp_path / "keys")
    committed: list[str] = []

    async def readiness() -> dict[str, object]:
        return {}

    app = create_app(
        title="tiny",
        settings=Settings(state_dir=tmp_path),
        readiness=readiness,
        verifier=JwksVerifier(str(issuer.jwks_path), issuer="tongxin-dev", audience="tongxin"),
    )

    @app.post("/things")
    async def make() -> None:
        committed.append("thing")
        raise RuntimeError("the answer could not be built")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://tiny") as client:
        response = await client.post("/things")

    assert committed == ["thing"]
    assert response.status_code == 500
    problem = response.json()
    assert problem["code"] == "internal"
    detail = problem["detail"].lower()
    assert "nothing was changed" not in detail
    assert "not known" in detail and "idempotency-key" in detail
    assert "the answer could not be built" not in detail  # internals stay in the log
