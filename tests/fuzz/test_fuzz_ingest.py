"""The department ingest under generated input: documented answers, nothing stored if refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from schemathesis import Case

from contracts.departments import load_ownership_map
from services.ingest.main import create_service
from services.kit.auth import DevIssuer
from services.kit.settings import Settings
from tests.fuzz.conftest import StreamHeads, bearer, intruders
from tests.fuzz.harness import Fuzzer, cases_wanted
from tests.support.apps import served

pytestmark = pytest.mark.timeout(3600)


def test_generated_events_get_documented_answers_and_store_nothing_when_refused(
    fuzz_settings: Settings, dev_issuer: DevIssuer, tmp_path: Path, stream_heads: StreamHeads
) -> None:
    police = dev_issuer.token(role="department-system", department="pol", subject="pol-checks")
    # Every department with a system of its own, each with its own credential.
    systems = {
        f"dept-{d.code}": dev_issuer.token(role="department-system", department=d.code)
        for d in load_ownership_map().departments
        if d.code != "pol" and any(b.kind == "system" for b in d.boundaries)
    }
    callers = bearer(
        police=police,
        **systems,
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
            examples=True,
            sender=department_of,
        )
        tally = fuzzer.run(cases_wanted())
    print(tally.summary())
    assert tally.cases >= cases_wanted()
    # The document's examples (one per event type) start cases that can be accepted.
    assert tally.statuses[202] > 0, "no generated event was ever accepted"


def department_of(case: Case) -> str | None:
    """The caller whose department owns the event in the body (police for pol)."""
    body = case.body if isinstance(case.body, dict) else {}
    department = body.get("department")
    if not isinstance(department, str):
        return None
    return "police" if department == "pol" else f"dept-{department}"
