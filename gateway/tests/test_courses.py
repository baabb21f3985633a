"""The courses feature without a bus: ranks from the histogram, places pushed on subscription."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from contracts.courses import (
    LectureQuotaSet,
    ParentEnrolled,
    PointsAwarded,
    SessionPlaceTaken,
    SessionScheduled,
    TrainingBatchScheduled,
    TrainingCertificateIssued,
)
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


class TestTermFigures:
    def test_participation_counts_a_parent_once_per_term_per_class(self, tmp_path: Path) -> None:
        model = CoursesReadModel(tmp_path / "courses.sqlite3").open()
        stream = Stream()
        # Ten parents in class 1-1, five in 1-2; points in the first term and the second.
        ones = [f"a{n}" for n in range(10)]
        twos = [f"b{n}" for n in range(5)]
        model.apply(
            "c", stream(*(enrolled(p) for p in ones), *(enrolled(p, klass="1-2") for p in twos))
        )
        autumn = [awarded(p, 5) for p in ones[:9]] + [awarded(ones[0], 3)]
        model.apply("c", stream(*autumn, *(awarded(p, 5, klass="1-2") for p in twos)))
        spring = awarded(ones[0], 5).model_copy(update={"earned_at": T + timedelta(days=100)})
        model.apply("c", stream(spring))
        term = "2026-2027-term-1"
        by_class = {
            r.class_id: (r.enrolled, r.active)
            for r in model.term_participation(term, school_id="s1")
        }
        assert by_class == {"1-1": (10, 9), "1-2": (5, 5)}
        assert [(r.school_id, r.enrolled, r.active) for r in model.term_participation(term)] == [
            ("s1", 15, 14)
        ]
        later = model.term_participation("2026-2027-term-2")
        assert [(r.enrolled, r.active) for r in later] == [(15, 1)]
        model.close()

    def test_the_lecture_quota_lists_each_school_and_the_lagging_ones(self, tmp_path: Path) -> None:
        model = CoursesReadModel(tmp_path / "courses.sqlite3").open()
        stream = Stream()
        quota = LectureQuotaSet(
            term="2026-2027-term-1", starts_on=date(2026, 9, 1), ends_on=date(2027, 1, 31),
            min_lectures=2, schools=["s1", "s2"], version=1,
        )  # fmt: skip
        # s1: two in the term (one over by now), one before it; s2: one.
        before = scheduled("x0").model_copy(
            update={"starts_at": datetime(2026, 8, 31, 15, tzinfo=UTC)}
        )
        s2 = scheduled("x3").model_copy(update={"school_id": "s2"})
        later = scheduled("x2").model_copy(
            update={"starts_at": T + timedelta(days=30), "ends_at": T + timedelta(days=30, hours=2)}
        )
        model.apply("c", stream(quota, before, scheduled("x1"), later, s2))
        row = model.lecture_quota("2026-2027-term-1", now=T + timedelta(days=1))
        assert row is not None
        assert [(s.school_id, s.lectures, s.held, s.lagging) for s in row.schools] == [
            ("s1", 2, 1, False),
            ("s2", 1, 1, True),
        ]
        assert model.lecture_quota("2025-2026-term-2", now=T) is None
        model.close()

    def test_teachers_trained_per_school_and_district(self, tmp_path: Path) -> None:
        model = CoursesReadModel(tmp_path / "courses.sqlite3").open()
        stream = Stream()
        day = date(2026, 11, 12)
        batch = TrainingBatchScheduled(
            batch_id="b1", title="Head teachers 1", audience="head-teacher", starts_on=day,
            ends_on=day, capacity=150, quotas={"s1": 100, "s2": 50},
        )  # fmt: skip

        def certificate(n: int, school: str, district: str) -> TrainingCertificateIssued:
            return TrainingCertificateIssued(
                batch_id="b1", certificate_no=f"TT-{n}", teacher_id=f"t{n}", school_id=school,
                district=district, audience="head-teacher", issued_on=day,
            )  # fmt: skip

        certificates = [certificate(n, "s1", "321002") for n in range(3)]
        certificates += [certificate(9, "s2", "321003")]
        model.apply("c", stream(batch, *certificates))
        per_school = [(r.district, r.school_id, r.trained) for r in model.trained(per_school=True)]
        assert per_school == [("321002", "s1", 3), ("321003", "s2", 1)]
        assert [(r.district, r.trained) for r in model.trained(per_school=False)] == [
            ("321002", 3),
            ("321003", 1),
        ]
        quotas = model.training_quotas(["b1"])["b1"]
        assert [(q.school_id, q.quota) for q in quotas] == [("s1", 100), ("s2", 50)]
        model.close()
