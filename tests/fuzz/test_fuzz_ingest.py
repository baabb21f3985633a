"""The department ingest under generated input: documented answers, nothing stored if refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis

from services.ingest.main import create_service
from services.kit.auth import DevIssuer
from services.kit.settings import Settings
from tests.fuzz.conftest import StreamHeads, bearer, intruders
from tests.fuzz.harness import Fuzzer, cases_wanted, exploring
from tests.support.apps import served

pytestmark = pytest.mark.timeout(3600)


def test_generated_events_get_documented_answers_and_store_nothing_when_refused(
    fuzz_settings: Settings, dev_issuer: DevIssuer, tmp_path: Path, stream_heads: StreamHeads
) -> None:
    police = dev_issuer.token(role="department-system", department="pol", subject="pol-checks")
    callers = bearer(
        police=police,
        womens_federation=dev_issuer.token(role="department-system", department="wf"),
        youth_league=dev_issuer.token(role="department-system", department="cyl"),
        no_department=dev_issuer.token(role="department-system"),
        coordinator=dev_issuer.token(role="coordinator", department="cyl"),
    )
    with served(create_service(fuzz_settings)) as base_url:
        fuzzer = Fuzzer(
            service="ingest",
            base_url=base_url,
            schema=schemathesis.openapi.from_url(f"{base_url}/openapi.json"),
            callers=callers,
            intruders=intruders(dev_issuer, tmp_path, police),
            head=stream_heads,
        )
        tally = fuzzer.run(cases_wanted())
    print(tally.summary())
    assert tally.cases >= cases_wanted()
    if exploring():
        # The replayed cases of `make test` are refusals only since the body became a oneOf
        # over twenty-odd event types; `make fuzz` draws enough fresh cases to reach one.
        assert tally.statuses[202] > 0, "no generated event was ever accepted"
