"""Partners subscribe to public events: signed webhooks to a real receiver, retries on a
test clock, auto-disable and redrive, a pull feed with cursors, and no child's or
volunteer's name ever reaching a partner. Real NATS, SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.main import create_gateway
from services.feeds.application import FeedsApplication
from services.feeds.domain import DISABLE_AFTER_S, RETRY_WAITS_S
from services.feeds.main import create_service as create_feeds
from services.feeds.schedule import JITTER
from services.kit.auth import DevIssuer
from services.kit.clock import ManualClock
from services.kit.settings import Settings
from tests.support.apps import running
from tests.support.receiver import Receiver, receiving
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(180)

SCHOOL = "yz-dongguan-primary"
# The dispatcher's behaviour does not depend on the store: the journeys that prove the
# store's part (the museum's first delivery, retries and redrive) run on both.
SQLITE_ONLY = pytest.mark.parametrize("store_settings", ["sqlite"], indirect=True)
SHIFT = "org.tongxin.volunteers.shift-published.v1"
AGREED = ["shift_id", "school_id", "post", "title", "starts_at", "ends_at"]


@dataclass
class Feeds:
    client: httpx.AsyncClient
    issuer: DevIssuer
    clock: ManualClock

    @property
    def app(self) -> FeedsApplication:
        application = self.client._transport.app.state.application  # type: ignore[attr-defined]
        assert isinstance(application, FeedsApplication)
        return application

    def prop(self) -> dict[str, str]:
        token = self.issuer.token(role="coordinator", department="prop", subject="prop-1")
        return {"Authorization": f"Bearer {token}"}

    def partner(self, partner_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.token(role='partner', subject=partner_id)}"}

    async def agree(self, partner_id: str, fields: list[str] | None = None) -> None:
        response = await self.client.put(
            f"/partners/{partner_id}/agreement",
            json={"event_types": {SHIFT: fields or AGREED}},
            headers=self.prop(),
        )
        assert response.status_code == 200, response.text

    async def add_endpoint(self, partner_id: str, receiver: Receiver, **extra: Any) -> str:
        response = await self.client.post(
            f"/partners/{partner_id}/endpoints",
            json={"url": receiver.url, **extra},
            headers=self.partner(partner_id),
        )
        assert response.status_code == 201, response.text
        receiver.secrets.append(response.json()["secret"])
        return str(response.json()["id"])

    async def log(self, partner_id: str, endpoint_id: str, **params: Any) -> list[Any]:
        response = await self.client.get(
            f"/partners/{partner_id}/endpoints/{endpoint_id}/deliveries",
            params=params,
            headers=self.partner(partner_id),
        )
        assert response.status_code == 200, response.text
        return list(response.json()["deliveries"])

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0


@pytest.fixture
async def feeds(settings: Settings, dev_issuer: DevIssuer) -> AsyncIterator[Feeds]:
    clock = ManualClock()
    app = create_feeds(settings)
    app.state.application.clock = clock
    app.state.application.allow_local_targets = True
    async with running(app) as client:
        yield Feeds(client, dev_issuer, clock)


async def publish_shift(volunteers: httpx.AsyncClient, title: str = "Museum lecture") -> str:
    start = datetime.now(UTC) + timedelta(days=3)
    response = await volunteers.post(
        "/shifts",
        json={
            "school_id": SCHOOL,
            "post": "lecture",
            "title": title,
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=2)).isoformat(),
            "capacity": 30,
            "child_facing": True,
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["shift_id"])


class TestAMuseumSubscribes:
    async def test_a_shift_reaches_the_museum_signed_with_only_the_agreed_fields(
        self, feeds: Feeds, volunteers: httpx.AsyncClient
    ) -> None:
        with receiving() as receiver:
            # Prop staff agree what the museum receives; the museum adds its endpoint.
            await feeds.agree("city-museum")
            endpoint_id = await feeds.add_endpoint("city-museum", receiver)

            # A school publishes a lecture; a volunteer registers (never for partners).
            await volunteers.post(
                "/volunteers",
                json={"display_name": "王小明", "kind": "parent", "school_id": SCHOOL},
            )
            shift_id = await publish_shift(volunteers)

            # It arrives once, verified by the receiver, with the agreed fields only.
            await eventually(lambda: receiver.delivered(), timeout=30)
            [arrival] = receiver.arrivals
            assert arrival.verified
            assert arrival.body["type"] == SHIFT
            assert arrival.body["subject"] == shift_id
            assert sorted(arrival.body["data"]) == sorted(AGREED)
            assert arrival.message_id == arrival.body["id"]

            # The pull feed holds the same message; the delivery log one 2xx attempt.
            response = await feeds.client.get(
                "/partners/city-museum/feed", headers=feeds.partner("city-museum")
            )
            assert response.headers["content-type"].startswith("application/cloudevents-batch")
            assert [e["id"] for e in response.json()] == [arrival.message_id]
            log = await eventually(
                lambda: _delivered_log(feeds, "city-museum", endpoint_id), timeout=10
            )
            assert log[0]["attempts"][0]["status"] == 204

            # Nothing about a person reached the museum, in any delivered body.
            assert "王小明" not in str([a.body for a in receiver.arrivals])


async def _delivered_log(feeds: Feeds, partner: str, endpoint_id: str) -> list[Any]:
    log = await feeds.log(partner, endpoint_id)
    return log if log and log[0]["state"] == "delivered" else []


@SQLITE_ONLY
class TestBadInput:
    async def test_refusals_are_clear_and_store_nothing(
        self, feeds: Feeds, volunteers: httpx.AsyncClient
    ) -> None:
        await feeds.agree("city-museum")
        before = feeds.head()
        museum = feeds.partner("city-museum")

        async def refused(method: str, url: str, status: int, code: str, **kw: Any) -> None:
            response = await feeds.client.request(method, url, **kw)
            assert response.status_code == status, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["code"] == code

        # A private address (production: no local targets).
        feeds.app.allow_local_targets = False
        for url in ("https://10.0.0.8/hook", "https://127.0.0.1/hook", "http://example.org/h"):
            await refused(
                "POST",
                "/partners/city-museum/endpoints",
                422,
                "endpoint-url-refused",
                json={"url": url},
                headers=museum,
            )
        feeds.app.allow_local_targets = True
        # A filter outside the agreement, or an unknown type.
        await refused(
            "POST",
            "/partners/city-museum/endpoints",
            422,
            "filter-refused",
            json={"url": "http://127.0.0.1:9/h", "event_types": ["org.tongxin.x.y.v1"]},
            headers=museum,
        )
        # A personal field, or an event not for partners, in an agreement.
        for asked in (
            {SHIFT: ["title", "display_name"]},
            {"org.tongxin.volunteers.volunteer-registered.v2": None},
        ):
            await refused(
                "PUT",
                "/partners/city-museum/agreement",
                422,
                "agreement-refused",
                json={"event_types": asked},
                headers=feeds.prop(),
            )
        # A partner reading another's feed, or setting its own agreement.
        await refused("GET", "/partners/childrens-hospital/feed", 403, "forbidden", headers=museum)
        await refused(
            "PUT",
            "/partners/city-museum/agreement",
            403,
            "forbidden",
            json={"event_types": {SHIFT: None}},
            headers=museum,
        )
        assert feeds.head() == before


class TestRetries:
    async def test_the_schedule_on_a_test_clock_then_five_days_disable_and_a_redrive(
        self, feeds: Feeds, volunteers: httpx.AsyncClient
    ) -> None:
        failing = True

        def script(n: int) -> tuple[int, dict[str, str]]:
            if not failing:
                return 200, {}
            if n == 1:
                return 429, {"Retry-After": "600"}
            return 500, {}

        with receiving(Receiver(script=script)) as receiver:
            await feeds.agree("city-museum")
            endpoint_id = await feeds.add_endpoint("city-museum", receiver)
            await publish_shift(volunteers, "first")
            await eventually(lambda: len(receiver.arrivals) == 1, timeout=30)

            # Each retry waits its step of the schedule (jitter within 10%); a 429's
            # Retry-After (600 s) is honoured over the 5 minutes due.
            start = feeds.clock.now()
            expected = [5.0, 600.0, *RETRY_WAITS_S[2:]]
            for n, wait in enumerate(expected, start=2):
                log = await eventually(lambda n=n: _attempts(feeds, endpoint_id, n - 1), timeout=10)
                due = log[0]["attempts"]
                assert len(due) == n - 1
                feeds.clock.advance(wait * (1 + JITTER))
                await eventually(lambda n=n: len(receiver.arrivals) == n, timeout=10)
            assert len(receiver.arrivals) == len(RETRY_WAITS_S) + 1
            log = await eventually(lambda: _dead(feeds, endpoint_id), timeout=10)
            gaps = _gaps(log[0]["attempts"])
            for gap, wait in zip(gaps, expected, strict=True):
                assert wait * (1 - JITTER) <= gap <= wait * (1 + JITTER) or gap == wait
            assert {a.message_id for a in receiver.arrivals} == {log[0]["message_id"]}
            assert all(a.verified for a in receiver.arrivals)

            # Five days of failure: the next failure disables the endpoint.
            feeds.clock.advance(DISABLE_AFTER_S - (feeds.clock.now() - start))
            since = time.time()
            await publish_shift(volunteers, "second")
            await eventually(lambda: _disabled(feeds, "city-museum"), timeout=30)
            # What comes while it is disabled waits as a dead letter.
            await publish_shift(volunteers, "third")
            await eventually(lambda: _dead_count(feeds, endpoint_id, 3), timeout=30)
            arrived = len(receiver.arrivals)

            # The museum fixes its server, enables the endpoint and redrives the events
            # since the second was published: exactly the second and third arrive, once each.
            failing = False
            museum = feeds.partner("city-museum")
            url = f"/partners/city-museum/endpoints/{endpoint_id}"
            assert (await feeds.client.post(f"{url}/enable", headers=museum)).status_code == 200
            response = await feeds.client.post(
                f"{url}/redrive", json={"since": since}, headers=museum
            )
            assert response.status_code == 200, response.text
            assert response.json()["redriven"] == 2, response.text
            await eventually(lambda: len(receiver.delivered()) == 2, timeout=30)
            titles = sorted(a.body["data"]["title"] for a in receiver.delivered())
            assert titles == ["second", "third"]
            assert len(receiver.arrivals) == arrived + 2

    @SQLITE_ONLY
    async def test_a_timeout_is_retried_under_the_same_webhook_id_and_a_410_disables(
        self, feeds: Feeds, volunteers: httpx.AsyncClient
    ) -> None:
        feeds.app.delivery_timeout_s = 0.5
        held, gone = Receiver(), Receiver(script=lambda _: (410, {}))
        with receiving(held), receiving(gone):
            await feeds.agree("city-museum")
            await feeds.agree("childrens-hospital")
            held_id = await feeds.add_endpoint("city-museum", held)
            gone_id = await feeds.add_endpoint("childrens-hospital", gone)
            held.open.clear()
            try:
                await publish_shift(volunteers, "held")
                # The museum's server does not answer in time: a failed attempt, no status.
                log = await eventually(lambda: _attempts(feeds, held_id, 1), timeout=30)
                assert log[0]["attempts"][0] | {"at": None, "latency_ms": None} == {
                    "at": None,
                    "status": None,
                    "latency_ms": None,
                    "error": "timeout",
                }
            finally:
                held.open.set()
            # Retried 5 s later on the clock, delivered; any copy shares the webhook-id.
            feeds.clock.advance(5 * (1 + JITTER))
            log = await eventually(lambda: _delivered_log(feeds, "city-museum", held_id), 30)
            assert [a["status"] for a in log[0]["attempts"]] == [None, 204]
            assert held.delivered()
            assert {a.message_id for a in held.arrivals} == {log[0]["message_id"]}
            # The hospital's server answers 410 Gone: the endpoint is disabled at once and
            # the message dead-lettered after that single attempt.
            hospital = feeds.partner("childrens-hospital")

            async def gone_disabled() -> bool:
                response = await feeds.client.get(
                    "/partners/childrens-hospital/endpoints", headers=hospital
                )
                return bool(response.json()[0]["disabled"] == "gone-410")

            await eventually(gone_disabled, timeout=30)
            dead = await feeds.log("childrens-hospital", gone_id, state="dead")
            assert [[a["status"] for a in d["attempts"]] for d in dead] == [[410]]
            assert len(gone.arrivals) == 1


async def _attempts(feeds: Feeds, endpoint_id: str, count: int) -> list[Any]:
    log = await feeds.log("city-museum", endpoint_id)
    return log if log and len(log[0]["attempts"]) >= count else []


async def _dead(feeds: Feeds, endpoint_id: str) -> list[Any]:
    return await feeds.log("city-museum", endpoint_id, state="dead")


async def _dead_count(feeds: Feeds, endpoint_id: str, count: int) -> bool:
    return len(await _dead(feeds, endpoint_id)) == count


async def _disabled(feeds: Feeds, partner: str) -> bool:
    response = await feeds.client.get(
        f"/partners/{partner}/endpoints", headers=feeds.partner(partner)
    )
    return response.json()[0]["disabled"] == "failing-5-days"


def _gaps(attempts: list[Any]) -> list[float]:
    times = [datetime.fromisoformat(a["at"]).timestamp() for a in attempts]
    return [b - a for a, b in zip(times, times[1:], strict=False)]


@SQLITE_ONLY
class TestNoHeadOfLineBlocking:
    async def test_a_dead_endpoint_never_delays_another_partners(
        self, feeds: Feeds, volunteers: httpx.AsyncClient
    ) -> None:
        stuck = Receiver()
        with receiving(stuck), receiving() as healthy:
            await feeds.agree("city-museum")
            await feeds.agree("childrens-hospital")
            await feeds.add_endpoint("city-museum", stuck)
            await feeds.add_endpoint("childrens-hospital", healthy)
            # The museum's server takes every request and never answers while closed.
            stuck.open.clear()
            try:
                for n in range(5):
                    await publish_shift(volunteers, f"lecture {n}")
                # All five reach the hospital while the museum's first request still hangs.
                await eventually(lambda: len(healthy.delivered()) == 5, timeout=30)
                assert stuck.arrivals == []
                assert all(a.verified for a in healthy.arrivals)
            finally:
                stuck.open.set()
            await eventually(lambda: len(stuck.delivered()) == 5, timeout=30)


@SQLITE_ONLY
class TestRateLimit:
    async def test_the_rate_holds_on_the_clock(
        self, feeds: Feeds, volunteers: httpx.AsyncClient
    ) -> None:
        with receiving() as receiver:
            await feeds.agree("city-museum")
            await feeds.add_endpoint("city-museum", receiver, rate_per_s=2, ordered=True)
            shift_ids = [await publish_shift(volunteers, f"lecture {n}") for n in range(6)]
            # Two per second: with the test clock still, two arrive and no more.
            await eventually(lambda: len(receiver.arrivals) == 2, timeout=30)
            await eventually(lambda: _feed_holds(feeds, 6), timeout=30)
            assert len(receiver.arrivals) == 2
            for expected in (4, 6):
                feeds.clock.advance(1.0)
                await eventually(lambda e=expected: len(receiver.arrivals) == e, timeout=10)
            assert sorted(a.body["subject"] for a in receiver.arrivals) == sorted(shift_ids)


async def _feed_holds(feeds: Feeds, count: int) -> bool:
    response = await feeds.client.get(
        "/partners/city-museum/feed", headers=feeds.partner("city-museum")
    )
    return len(response.json()) == count


class TestPullFeed:
    async def test_resume_from_the_cursor_after_a_restart_with_nothing_missing_or_repeated(
        self, settings: Settings, dev_issuer: DevIssuer, volunteers: httpx.AsyncClient
    ) -> None:
        museum = {
            "Authorization": f"Bearer {dev_issuer.token(role='partner', subject='city-museum')}"
        }
        prop = {
            "Authorization": "Bearer "
            + dev_issuer.token(role="coordinator", department="prop", subject="prop-1")
        }
        seen: list[str] = []
        async with running(create_feeds(settings)) as client:
            await client.put(
                "/partners/city-museum/agreement",
                json={"event_types": {SHIFT: None}},
                headers=prop,
            )
            for n in range(3):
                await publish_shift(volunteers, f"first {n}")
            await eventually(lambda: _pull(client, museum, "0", 3), timeout=30)
            batch, cursor = await _pull(client, museum, "0", 2)
            seen += [e["id"] for e in batch]
        # Stopped; more happens meanwhile; started again from its own store.
        for n in range(2):
            await publish_shift(volunteers, f"second {n}")
        async with running(create_feeds(settings)) as client:
            await eventually(lambda: _pull(client, museum, cursor, 3), timeout=30)
            # A long poll after the last cursor waits, then answers empty.
            batch, cursor = await _pull(client, museum, cursor, 100)
            seen += [e["id"] for e in batch]
            late, same = await _pull(client, museum, cursor, 100, wait=0.3)
            assert late == [] and same == cursor
        assert len(seen) == 5 and len(set(seen)) == 5


async def _pull(
    client: httpx.AsyncClient, headers: dict[str, str], after: str, limit: int, wait: float = 0
) -> Any:
    response = await client.get(
        "/partners/city-museum/feed",
        params={"after": after, "limit": limit, "wait": wait},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    batch = response.json()
    if len(batch) < limit and wait == 0 and limit <= 3:
        return None
    return batch, response.headers["Feed-Cursor"]


@SQLITE_ONLY
class TestProp:
    async def test_prop_staff_see_endpoints_and_deliveries_in_graphql(
        self, feeds: Feeds, volunteers: httpx.AsyncClient, settings: Settings, tmp_path: Path
    ) -> None:
        query = '{ feedEndpoints(partnerId: "city-museum") { url delivered disabled } }'
        with receiving() as receiver:
            await feeds.agree("city-museum")
            await feeds.add_endpoint("city-museum", receiver)
            await publish_shift(volunteers)
            gateway = create_gateway(settings, readmodel_dir=tmp_path / "readmodels")
            async with running(gateway) as client:

                async def endpoints(headers: dict[str, str]) -> Any:
                    response = await client.post("/graphql", json={"query": query}, headers=headers)
                    return response.json()

                async def delivered() -> Any:
                    found = (await endpoints(feeds.prop())).get("data") or {}
                    rows = found.get("feedEndpoints") or []
                    return rows if rows and rows[0]["delivered"] == 1 else None

                [row] = await eventually(delivered, timeout=30)
                assert row == {"url": receiver.url, "delivered": 1, "disabled": None}
                # Not for other departments' staff, nor for the partner itself.
                for headers in (
                    {
                        "Authorization": "Bearer "
                        + feeds.issuer.token(role="coordinator", department="cyl")
                    },
                    feeds.partner("city-museum"),
                ):
                    body = await endpoints(headers)
                    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@SQLITE_ONLY
class TestPartnerManagement:
    async def test_prop_registers_a_partner_with_its_agreement_and_reads_its_figures(
        self, feeds: Feeds, volunteers: httpx.AsyncClient
    ) -> None:
        library = {
            "name_zh": "市图书馆",
            "name_en": "City Library",
            "description": "reading weeks for schools",
            "event_types": {SHIFT: ["shift_id", "school_id", "title"]},
        }
        prop, client = feeds.prop(), feeds.client
        # Refused, nothing stored: a partner registering itself, a file partner changed
        # here, a personal field in the agreement.
        refusals = [
            (feeds.partner("city-library"), "city-library", library, 403),
            (prop, "city-museum", library, 409),
            (prop, "city-library", library | {"event_types": {SHIFT: ["display_name"]}}, 422),
        ]
        for headers, partner_id, body, status in refusals:
            response = await client.put(f"/partners/{partner_id}", json=body, headers=headers)
            assert response.status_code == status, response.text
            assert response.headers["content-type"] == "application/problem+json"
        listed = (await client.get("/partners", headers=prop)).json()
        assert "city-library" not in {p["id"] for p in listed}

        response = await client.put("/partners/city-library", json=library, headers=prop)
        assert response.status_code == 200, response.text
        renamed = library | {"name_en": "City Library (Main)", "event_types": None}
        response = await client.put("/partners/city-library", json=renamed, headers=prop)
        assert response.json()["agreement"] == {SHIFT: ["shift_id", "school_id", "title"]}
        listed = (await client.get("/partners", headers=prop)).json()
        [row] = [p for p in listed if p["id"] == "city-library"]
        assert (row["name_en"], row["source"]) == ("City Library (Main)", "api")

        with receiving() as receiver:
            endpoint_id = await feeds.add_endpoint("city-library", receiver)
            await publish_shift(volunteers, "reading week")
            await eventually(lambda: len(receiver.delivered()) == 1, timeout=30)
            assert set(receiver.arrivals[0].body["data"]) == {"shift_id", "school_id", "title"}
            figures = await eventually(lambda: _figures(feeds, "city-library"), timeout=10)
            [endpoint] = figures["endpoints"]
            assert endpoint["endpoint_id"] == endpoint_id
            assert (endpoint["delivered"], endpoint["attempts"], endpoint["pending"]) == (1, 1, 0)
            assert endpoint["latency_ms_p50"] > 0
            # Another partner reads neither its figures nor its feed.
            museum = feeds.partner("city-museum")
            for path in ("figures", "feed"):
                response = await client.get(f"/partners/city-library/{path}", headers=museum)
                assert response.status_code == 403, response.text


async def _figures(feeds: Feeds, partner: str) -> Any:
    response = await feeds.client.get(f"/partners/{partner}/figures", headers=feeds.prop())
    assert response.status_code == 200, response.text
    body = response.json()
    done = body["endpoints"] and body["endpoints"][0]["delivered"]
    return body if done and not body["endpoints"][0]["pending"] else None
