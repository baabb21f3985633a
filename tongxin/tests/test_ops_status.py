"""`tongxin ops status` on recorded API responses; /readyz read through the service proxy."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import urllib3
from kubernetes import client
from typer.testing import CliRunner

from tongxin import cli
from tongxin.ops.status import SCHEMA, collect, json_schema, lag_from_readyz, rollout_state
from tongxin.tests.ops_support import (
    api_error,
    fixture_text,
    mock_kube,
    raw_response,
    recorded,
    wire_requests,
)

runner = CliRunner()
WIDE = {"COLUMNS": "220"}


def deployments() -> dict[str, client.V1Deployment]:
    listed = recorded("deployments.json", "V1DeploymentList")
    return {d.metadata.name: d for d in listed.items}


def readyz(name: str, **_: Any) -> Any:
    """The service proxy as the API server answers it for the recorded services."""
    service = name.split(":")[0]
    if service == "volunteers":
        return raw_response(fixture_text("readyz_volunteers.json"))
    if service == "gateway":
        return raw_response(fixture_text("readyz_gateway.json"))
    raise api_error(503, "Service Unavailable", fixture_text("proxy_no_endpoints.json"))


def recorded_cluster() -> tuple[Any, Any]:
    kube, parent = mock_kube()
    kube.apps.list_namespaced_deployment.return_value = recorded(
        "deployments.json", "V1DeploymentList"
    )
    kube.core.list_namespaced_service.return_value = recorded("services.json", "V1ServiceList")
    kube.core.connect_get_namespaced_service_proxy_with_path.side_effect = (
        lambda name, namespace, path, **kw: readyz(name)
    )
    return kube, parent


def test_rollout_states_of_the_recorded_deployments() -> None:
    d = deployments()
    assert rollout_state(d["volunteers"])[0] == "complete"
    state, detail = rollout_state(d["gateway"])
    assert state == "progressing" and detail == "1 of 2 replicas updated"
    state, detail = rollout_state(d["ingest"])
    assert state == "stalled" and "timed out progressing" in detail


def test_a_new_generation_is_progressing_even_after_an_old_deadline() -> None:
    ingest = deployments()["ingest"]
    ingest.metadata.generation = 5  # a new image patched in; the controller has not seen it
    assert rollout_state(ingest) == ("progressing", "controller has not seen generation 5 yet")


def test_old_replicas_still_running_keep_the_rollout_progressing() -> None:
    volunteers = deployments()["volunteers"]
    volunteers.status.replicas = 3
    assert rollout_state(volunteers) == ("progressing", "1 old replicas pending termination")


def test_the_table_shows_replicas_images_state_and_lag() -> None:
    kube, _ = recorded_cluster()
    result = runner.invoke(cli.app, ["ops", "status"], obj=kube, env=WIDE)
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if "│" in line}
    assert "registry.example.org/tongxin:1.4.1" in lines["volunteers"]
    assert "complete" in lines["volunteers"] and "3 (relay)" in lines["volunteers"]
    assert "progressing" in lines["gateway"] and "12 (projector)" in lines["gateway"]
    assert "stalled" in lines["ingest"]
    assert 'unknown (HTTP 503: no endpoints available for service "ingest:http")' in lines["ingest"]
    assert "unknown (no Service selects its pods)" in lines["volunteers-relay"]
    # desired / updated / ready / available of the progressing gateway
    assert [cell.strip() for cell in lines["gateway"].split("│")[3:7]] == ["2", "1", "2", "2"]


def test_readyz_goes_through_the_api_servers_service_proxy() -> None:
    kube, parent = recorded_cluster()
    collect(kube, "tongxin")
    proxied = [r for r in wire_requests(parent) if "/proxy/" in r.path]
    assert sorted(r.path for r in proxied) == [
        "/api/v1/namespaces/tongxin/services/gateway:http/proxy/readyz",
        "/api/v1/namespaces/tongxin/services/ingest:http/proxy/readyz",
        "/api/v1/namespaces/tongxin/services/volunteers:http/proxy/readyz",
    ]
    assert all(r.method == "GET" for r in proxied)
    lists = [r for r in wire_requests(parent) if "/proxy/" not in r.path]
    assert {r.query["labelSelector"][0] for r in lists} == {"app.kubernetes.io/part-of=tongxin"}


def test_json_output_follows_the_committed_schema() -> None:
    kube, _ = recorded_cluster()
    result = runner.invoke(cli.app, ["ops", "status", "--json"], obj=kube)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    jsonschema.validate(report, json.loads(SCHEMA.read_text(encoding="utf-8")))
    by_name = {s["name"]: s for s in report["services"]}
    assert by_name["volunteers"]["lag"] == {
        "value": 3,
        "source": "relay",
        "ready": True,
        "reason": None,
        "parts": {"relay": 3},
    }
    assert by_name["gateway"]["lag"]["value"] == 12
    assert by_name["gateway"]["lag"]["parts"] == {"projector:volunteers": 12}
    assert by_name["ingest"]["rollout"] == "stalled"
    assert by_name["ingest"]["lag"]["value"] is None
    assert by_name["volunteers-relay"]["component"] == "relay"


def test_the_committed_schema_matches_the_models() -> None:
    assert SCHEMA.read_text(encoding="utf-8") == json_schema(), (
        "status.schema.json is stale: python -c 'from tongxin.ops.status import SCHEMA, "
        "json_schema; SCHEMA.write_text(json_schema())'"
    )


def test_a_service_that_is_not_ready_still_reports_its_lag() -> None:
    kube, _ = recorded_cluster()
    not_ready = {
        "ready": False,
        "checks": {
            "readmodel:volunteers": {"ok": True},
            "projector:volunteers": {"ok": False, "pending": 900},
        },
    }
    kube.core.connect_get_namespaced_service_proxy_with_path.side_effect = api_error(
        503, "Service Unavailable", json.dumps(not_ready)
    )
    report = collect(kube, "tongxin")
    gateway = next(s for s in report.services if s.name == "gateway")
    assert (gateway.lag.value, gateway.lag.ready) == (900, False)


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (raw_response("<html>oops</html>"), "/readyz did not answer JSON"),
        (raw_response('{"status": "ok"}'), "/readyz has no checks"),
        (urllib3.exceptions.MaxRetryError(None, "/readyz"), "MaxRetryError"),
        (api_error(403, "Forbidden", '{"kind":"Status","message":"proxy forbidden"}'), "HTTP 403"),
    ],
)
def test_an_unreachable_or_odd_readyz_is_unknown_with_the_reason(failure: Any, reason: str) -> None:
    kube, _ = recorded_cluster()
    proxy = kube.core.connect_get_namespaced_service_proxy_with_path
    if isinstance(failure, Exception):
        proxy.side_effect = failure
    else:
        proxy.side_effect = None
        proxy.return_value = failure
    report = collect(kube, "tongxin")
    volunteers = next(s for s in report.services if s.name == "volunteers")
    assert volunteers.lag.value is None
    assert volunteers.lag.reason is not None and reason in volunteers.lag.reason


def test_the_gateways_lag_is_every_features_projector_together() -> None:
    readyz = {
        "ready": False,
        "checks": {
            "readmodel:volunteers": {"ok": True},
            "projector:volunteers": {"ok": True, "pending": 12, "positions": {"g-v": 1190}},
            "readmodel:courses": {"ok": True},
            "projector:courses": {"ok": False, "pending": 900, "positions": {"g-c": 3}},
        },
    }
    lag = lag_from_readyz(readyz)
    assert (lag.value, lag.source, lag.ready) == (912, "projector", False)
    assert lag.parts == {"projector:courses": 900, "projector:volunteers": 12}


def test_a_gateway_of_an_older_release_reports_one_projector() -> None:
    readyz = {"ready": True, "checks": {"readmodel": {"ok": True}, "projector": {"pending": 7}}}
    lag = lag_from_readyz(readyz)
    assert (lag.value, lag.source, lag.parts) == (7, "projector", {"projector": 7})


def test_a_service_without_lag_checks_says_so() -> None:
    ingest_readyz = {"ready": True, "checks": {"nats": {"ok": True}}}
    lag = lag_from_readyz(ingest_readyz)
    assert lag.value is None and lag.reason == "/readyz reports no relay or projector"


def test_no_tongxin_deployments_is_said_plainly() -> None:
    kube, _ = mock_kube()
    kube.apps.list_namespaced_deployment.return_value = client.V1DeploymentList(items=[])
    kube.core.list_namespaced_service.return_value = client.V1ServiceList(items=[])
    result = runner.invoke(cli.app, ["ops", "status", "--namespace", "city"], obj=kube)
    assert result.exit_code == 0
    assert "no Deployments labelled app.kubernetes.io/part-of=tongxin in city" in result.stdout
