"""The courses feature without a bus: ranks from the histogram, places pushed on subscription."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from contracts.courses import ParentEnrolled, PointsAwarded, SessionPlaceTaken, SessionScheduled
from gateway.courses.readmodel import CoursesReadModel, period_keys
from gateway.main import create_gateway
from gateway.tests.support import Stream
from services.kit.auth import DevIssuer
from services.kit.settings import Settings

PROTOCOL = ["graphql-transport-ws"]
T = datetime(2026, 11, 10, 12, tzinfo=UTC)


def enrolled(parent: str, school: str = "s1", klass: str = "1-1") -> ParentEnrolled:
    return ParentEnrolled(
        parent_id=parent, school_id=school, class_id=klass, district="321002", enrolled_at=T
    )


def awarded(parent: str, points: int, school: str = "s1", klass: str = "1-1") -> PointsAwarded:
    return PointsAwarded(
        parent_id=parent, school_id=school, class_id=klass, district="321002",
        activity="attendance", source_id=f"s-{parent}-{points}", points=points, rule_version=1,
        earned_at=T,
    )  # fmt: skip


def scheduled(session: str) -> SessionScheduled:
    return SessionScheduled(
        session_id=session, course_id="c1", parent_school_id=None, school_id="s1",
        district="321002", mode="online", lecturer_kind="teacher", lecturer_id="t1",
        starts_at=T, ends_at=T + timedelta(hours=2), capacity=2,
    )  # fmt: skip


class TestRanks:
    def test_a_rank_counts_the_parents_above_and_ties_share_it(self, tmp_path: Path) -> None:
        model = CoursesReadModel(tmp_path / "courses.sqlite3").open()
        stream = Stream()
        parents = {"a": 30, "b": 10, "c": 10, "d": 5}
        model.apply("c", stream(*(enrolled(p) for p in parents), enrolled("e", school="s2")))
        # Points arrive in two batches; b's second award moves them between totals.
        model.apply("c", stream(awarded("a", 30), awarded("b", 4), awarded("c", 10)))
        model.apply("c", stream(awarded("b", 6), awarded("d", 5), awarded("e", 50, school="s2")))
        _, month = period_keys(T)
        ranks = {}
        for p in parents:
            row = model.parent(p)
            assert row is not None
            ranks[p] = [(s.rank, s.parents) for s in model.standings(row, month)]
        # In class and school (4 parents), then district and city (e has 50 points too).
        assert ranks["a"] == [(1, 4), (1, 4), (2, 5), (2, 5)]
        assert ranks["b"] == ranks["c"] == [(2, 4), (2, 4), (3, 5), (3, 5)]
        assert ranks["d"] == [(4, 4), (4, 4), (5, 5), (5, 5)]
        page = model.ranking(scope="school", period=month, first=3, school_id="s1")
        assert [(r.parent_id, r.rank, r.points) for r in page.rows] == [
            ("a", 1, 30),
            ("b", 2, 10),
            ("c", 2, 10),
        ]
        model.close()


@pytest.fixture
def app(tmp_path: Path, issuer: DevIssuer):  # type: ignore[no-untyped-def]
    settings = Settings(state_dir=tmp_path, auth_jwks_url=str(issuer.jwks_path))
    return create_gateway(settings, readmodel_dir=tmp_path, start_projector=False)


class TestSessionPlaces:
    def test_places_are_pushed_for_the_session_asked(self, app, issuer) -> None:  # type: ignore[no-untyped-def]
        token = issuer.token(role="viewer")
        stream = Stream()
        with (
            TestClient(app) as client,
            client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws,
        ):
            ws.send_json(
                {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
            )
            assert ws.receive_json()["type"] == "connection_ack"
            query = 'subscription { sessionPlaces(sessionId: "s1") { id placesFilled placesLeft } }'
            ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": query}})
            live = app.state.features["courses"]
            deadline = time.monotonic() + 5
            while live.broadcaster.subscribers != 1:
                assert time.monotonic() < deadline, "the subscription never registered"
                time.sleep(0.01)
            live.readmodel.apply("c", stream(scheduled("other"), scheduled("s1")))
            first = ws.receive_json()["payload"]["data"]["sessionPlaces"]
            assert first == {"id": "s1", "placesFilled": 0, "placesLeft": 2}
            taken = SessionPlaceTaken(
                session_id="s1", parent_id="p1", promoted=False, places_filled=1, waitlisted=0
            )
            live.readmodel.apply("c", stream(taken))
            assert ws.receive_json()["payload"]["data"]["sessionPlaces"]["placesLeft"] == 1
            ws.send_json({"id": "1", "type": "complete"})


class TestBadInput:
    def test_an_unknown_theme_and_a_ranking_without_its_school_are_refused(
        self, app, issuer
    ) -> None:  # type: ignore[no-untyped-def]
        headers = {"Authorization": f"Bearer {issuer.token(role='viewer')}"}
        refused = {
            "{ courses(theme: ASTROLOGY) { edges { cursor } } }": "GRAPHQL_VALIDATION_FAILED",
            "{ ranking(scope: SCHOOL) { edges { cursor } } }": "BAD_USER_INPUT",
            '{ ranking(scope: CLASS, schoolId: "s1") { edges { cursor } } }': "BAD_USER_INPUT",
            "{ sessions(first: 1000) { edges { cursor } } }": "BAD_USER_INPUT",
            '{ courses(after: "not-a-cursor") { edges { cursor } } }': "BAD_USER_INPUT",
        }
        with TestClient(app) as client:
            for query, code in refused.items():
                body = client.post("/graphql", json={"query": query}, headers=headers).json()
                assert body["errors"][0]["extensions"]["code"] == code, query
