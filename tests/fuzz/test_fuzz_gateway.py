"""The gateway's REST surface under generated input; GraphQL has its own abuse journey."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis

from gateway.main import create_gateway
from services.kit.auth import DevIssuer
from services.kit.settings import Settings
from tests.fuzz.conftest import bearer, intruders
from tests.fuzz.harness import Fuzzer, cases_wanted
from tests.support.apps import served

pytestmark = pytest.mark.timeout(3600)


def test_the_gateways_openapi_routes_answer_as_documented(
    fuzz_settings: Settings, dev_issuer: DevIssuer, tmp_path: Path
) -> None:
    app = create_gateway(
        fuzz_settings.model_copy(update={"gateway_introspection": False}),
        readmodel_dir=tmp_path / "readmodels",
        introspection=False,
        graphql_ide=False,
    )
    coordinator = dev_issuer.token(role="coordinator")
    with served(app) as base_url:
        fuzzer = Fuzzer(
            service="gateway",
            base_url=base_url,
            # /graphql is listed but not described (strawberry documents no request);
            # tests/e2e/test_graphql_abuse.py covers it.
            schema=schemathesis.openapi.from_url(f"{base_url}/openapi.json").exclude(
                path="/graphql"
            ),
            callers=bearer(coordinator=coordinator),
            intruders=intruders(dev_issuer, tmp_path, coordinator),
            head=lambda: app.state.features["volunteers"].readmodel.position("gateway-volunteers"),
        )
        tally = fuzzer.run(cases_wanted())
    print(tally.summary())
    # Few routes with few parameters: generation may run out of distinct cases early.
    assert tally.operations.keys() == {"GET /healthz", "GET /readyz"}
