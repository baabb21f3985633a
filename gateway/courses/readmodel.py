"""The courses read model: a SQLite projection of the courses boundary's events.

Parent schools with their "ten haves", the course catalogue with its tags, sessions with
places left, parents as ids and facts (school, class, district, consent, points) and
points per period. Changes notify the ids of the sessions touched (`sessionChanged`).

Ranks stay fast among 800,000 parents because nobody is sorted to find one. A rank is
one plus the parents of the scope holding more points in the period (ISO week or month,
in China time); equal points share a rank. For every scope (class, school, district,
city) the model keeps how many parents hold each points total (`points_histogram`), so
the count is a sum over the distinct totals above (hundreds of rows at most, adjacent in
one index), whatever the number of parents. Counting a school's ~2,000 rows of
`points_periods` instead cost a p95 of 16 ms on pages not in memory; the histogram rows
of a scope sit together in a few pages. Ranking pages read `points_periods` for the rows
and the histogram for their ranks.

Training batches, their quotas, attendance and certificates (figures: teachers trained
per school and district); the lecture quota of each term with each school's lectures
(sessions for the school starting in the term); participation per term (parents with
points earned in the term, per class).

No personal data: names stay in the courses service, which gives them only to the
bureau's staff and, for rankings, only for the parents who opted in.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal, Self

from contracts.city import load_city
from contracts.courses import (
    CoursePublished,
    CourseRetired,
    LectureQuotaSet,
    ParentEnrolled,
    ParentErased,
    ParentSchoolInspected,
    ParentSchoolRegistered,
    PointsAwarded,
    RankingConsentChanged,
    SessionAttended,
    SessionPlaceTaken,
    SessionRegistrationCancelled,
    SessionScheduled,
    SessionWaitlisted,
    TenHaveEvidenceRecorded,
    Term,
    TrainingAttendanceRecorded,
    TrainingBatchCompleted,
    TrainingBatchScheduled,
    TrainingCertificateIssued,
    TrainingEnrolled,
    parse_term,
)
from contracts.events import ContractEvent
from gateway.core.pagination import InvalidCursorError, Page, decode_cursor, encode_cursor
from gateway.core.projection import SqliteProjection
from gateway.courses.parent_runs import write_run
from services.kit.citytime import city_day
from services.kit.consumer import Delivered
from services.kit.deadlines import default_clock

# The read model's page cache, per connection (gateway and projector each hold one).
CACHE_KB = 32 * 1024
# Weeks and months are those of the city's calendar.
CST = timezone(timedelta(hours=8))
ScopeKind = Literal["city", "district", "school", "class"]
PeriodKind = Literal["week", "month"]
ACTIVITY_COUNTS = {"attendance", "online-completion", "homework"}

TABLES_DDL = """
CREATE TABLE IF NOT EXISTS parent_schools (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    level TEXT NOT NULL,
    host_kind TEXT NOT NULL,
    host_id TEXT NOT NULL,
    district TEXT NOT NULL,
    valid_until TEXT,
    registered_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS parent_schools_by_district ON parent_schools (district, level, id);
CREATE TABLE IF NOT EXISTS ten_haves (
    parent_school_id TEXT NOT NULL,
    item TEXT NOT NULL,
    document_ref TEXT,
    dated TEXT,
    verdict TEXT,
    inspected_on TEXT,
    by_department TEXT,
    PRIMARY KEY (parent_school_id, item)
);
CREATE TABLE IF NOT EXISTS courses (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    problem TEXT NOT NULL,
    revision INTEGER NOT NULL,
    stages TEXT NOT NULL,
    themes TEXT NOT NULL,
    steps TEXT NOT NULL,
    published_at TEXT NOT NULL,
    retired_at TEXT
);
CREATE INDEX IF NOT EXISTS courses_by_title ON courses (title, id);
CREATE TABLE IF NOT EXISTS course_tags (
    tag TEXT NOT NULL,
    course_id TEXT NOT NULL,
    PRIMARY KEY (tag, course_id)
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    course_id TEXT NOT NULL,
    parent_school_id TEXT,
    school_id TEXT,
    district TEXT NOT NULL,
    mode TEXT NOT NULL,
    lecturer_kind TEXT NOT NULL,
    lecturer_id TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    capacity INTEGER NOT NULL,
    places_filled INTEGER NOT NULL DEFAULT 0,
    waitlisted INTEGER NOT NULL DEFAULT 0,
    attended INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS sessions_by_end ON sessions (ends_at, id);
CREATE INDEX IF NOT EXISTS sessions_by_start ON sessions (starts_at, id);
CREATE INDEX IF NOT EXISTS sessions_by_school ON sessions (school_id, starts_at);
CREATE TABLE IF NOT EXISTS parents (
    id TEXT PRIMARY KEY,
    school_id TEXT,
    class_id TEXT,
    district TEXT,
    opted_in INTEGER NOT NULL DEFAULT 0,
    erased INTEGER NOT NULL DEFAULT 0,
    active INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS parents_by_class ON parents (school_id, class_id, active);
CREATE TABLE IF NOT EXISTS participation (
    school_id TEXT NOT NULL,
    class_id TEXT NOT NULL,
    district TEXT,
    enrolled INTEGER NOT NULL,
    active INTEGER NOT NULL,
    PRIMARY KEY (school_id, class_id)
);
CREATE TABLE IF NOT EXISTS points_periods (
    parent_id TEXT NOT NULL,
    period TEXT NOT NULL,
    points INTEGER NOT NULL,
    school_id TEXT NOT NULL,
    class_id TEXT NOT NULL,
    district TEXT NOT NULL,
    PRIMARY KEY (parent_id, period)
);
CREATE INDEX IF NOT EXISTS points_in_city ON points_periods (period, points DESC, parent_id);
CREATE INDEX IF NOT EXISTS points_in_school
    ON points_periods (school_id, period, points DESC, parent_id, class_id);
CREATE TABLE IF NOT EXISTS points_histogram (
    scope TEXT NOT NULL,
    period TEXT NOT NULL,
    points INTEGER NOT NULL,
    parents INTEGER NOT NULL,
    PRIMARY KEY (scope, period, points)
);
CREATE TABLE IF NOT EXISTS term_active (
    parent_id TEXT NOT NULL,
    term TEXT NOT NULL,
    PRIMARY KEY (parent_id, term)
);
CREATE TABLE IF NOT EXISTS term_participation (
    school_id TEXT NOT NULL,
    class_id TEXT NOT NULL,
    term TEXT NOT NULL,
    district TEXT,
    active INTEGER NOT NULL,
    PRIMARY KEY (term, school_id, class_id)
);
CREATE TABLE IF NOT EXISTS training_batches (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    audience TEXT NOT NULL,
    starts_on TEXT NOT NULL,
    ends_on TEXT NOT NULL,
    capacity INTEGER NOT NULL,
    enrolled INTEGER NOT NULL DEFAULT 0,
    certified INTEGER NOT NULL DEFAULT 0,
    completed_on TEXT
);
CREATE INDEX IF NOT EXISTS training_by_start ON training_batches (starts_on, id);
CREATE TABLE IF NOT EXISTS training_quotas (
    batch_id TEXT NOT NULL,
    school_id TEXT NOT NULL,
    quota INTEGER NOT NULL,
    enrolled INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (batch_id, school_id)
);
CREATE TABLE IF NOT EXISTS training_days (
    batch_id TEXT NOT NULL,
    day TEXT NOT NULL,
    present INTEGER NOT NULL,
    PRIMARY KEY (batch_id, day)
);
CREATE TABLE IF NOT EXISTS training_certificates (
    batch_id TEXT NOT NULL,
    teacher_id TEXT NOT NULL,
    certificate_no TEXT NOT NULL,
    school_id TEXT NOT NULL,
    district TEXT NOT NULL,
    audience TEXT NOT NULL,
    issued_on TEXT NOT NULL,
    PRIMARY KEY (batch_id, teacher_id)
);
CREATE TABLE IF NOT EXISTS lecture_quotas (
    term TEXT PRIMARY KEY,
    starts_on TEXT NOT NULL,
    ends_on TEXT NOT NULL,
    min_lectures INTEGER NOT NULL,
    schools TEXT NOT NULL
);
"""


# A parent's points in a period, and for each of their four scopes the parents above them
# and the parents ranked. The LEFT JOIN keeps the parent's points when no scope has rows.
STANDINGS_SQL = """
WITH mine AS (
    SELECT COALESCE(
        (SELECT points FROM points_periods WHERE parent_id = ? AND period = ?), 0
    ) AS points
)
SELECT mine.points AS mine, h.scope AS scope,
       COALESCE(SUM(CASE WHEN h.points > mine.points THEN h.parents END), 0) AS above,
       COALESCE(SUM(h.parents), 0) AS ranked
FROM mine LEFT JOIN points_histogram h ON h.period = ? AND h.scope IN (?, ?, ?, ?)
GROUP BY h.scope
"""


@dataclass(frozen=True)
class TenHaveRow:
    item: str
    document_ref: str | None
    dated: date | None
    verdict: str | None
    inspected_on: date | None
    by_department: str | None


@dataclass(frozen=True)
class ParentSchoolRow:
    id: str
    name: str
    level: str
    host_kind: str
    host_id: str
    district: str
    valid_until: date | None
    meets_standard: bool


@dataclass(frozen=True)
class StandardRow:
    district: str
    level: str
    schools: int
    meeting: int


@dataclass(frozen=True)
class CourseRow:
    id: str
    title: str
    problem: str
    revision: int
    stages: list[str]
    themes: list[str]
    steps: list[str]
    published_at: datetime
    retired: bool


@dataclass(frozen=True)
class SessionRow:
    id: str
    course_id: str
    parent_school_id: str | None
    school_id: str | None
    district: str
    mode: str
    lecturer_kind: str
    lecturer_id: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    places_filled: int
    waitlisted: int
    attended: int

    @property
    def places_left(self) -> int:
        return max(self.capacity - self.places_filled, 0)


@dataclass(frozen=True)
class Standing:
    """A parent's points and rank in one scope and period."""

    scope: str
    points: int
    rank: int
    parents: int


@dataclass(frozen=True)
class ParentRow:
    id: str
    school_id: str | None
    class_id: str | None
    district: str | None
    opted_in: bool
    erased: bool


@dataclass(frozen=True)
class RankedRow:
    parent_id: str
    points: int
    rank: int
    opted_in: bool
    school_id: str


@dataclass(frozen=True)
class ParticipationRow:
    school_id: str
    district: str | None
    enrolled: int
    active: int


@dataclass(frozen=True)
class TermParticipationRow:
    term: str
    school_id: str
    class_id: str | None
    district: str | None
    enrolled: int
    active: int


@dataclass(frozen=True)
class QuotaRow:
    school_id: str
    district: str | None
    lectures: int
    held: int
    min_lectures: int

    @property
    def lagging(self) -> bool:
        return self.lectures < self.min_lectures


@dataclass(frozen=True)
class LectureQuotaRow:
    term: str
    starts_on: date
    ends_on: date
    min_lectures: int
    schools: list[QuotaRow]


@dataclass(frozen=True)
class TrainingQuotaRow:
    school_id: str
    quota: int
    enrolled: int


@dataclass(frozen=True)
class TrainingBatchRow:
    id: str
    title: str
    audience: str
    starts_on: date
    ends_on: date
    capacity: int
    enrolled: int
    certified: int
    completed_on: date | None


@dataclass(frozen=True)
class TrainedRow:
    """Teachers certified, per school (or per district when `school_id` is None)."""

    district: str
    school_id: str | None
    audience: str
    trained: int


def _utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _today() -> date:
    # The kit's clock: the wall clock, or the one a test moves (TONGXIN_CLOCK_FILE).
    return city_day(default_clock().now())


def period_keys(moment: datetime) -> tuple[str, str]:
    """The periods points earned at `moment` count in: its ISO week and its month."""
    local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(CST)
    year, week, _ = local.isocalendar()
    return f"week:{year}-W{week:02d}", f"month:{local.year}-{local.month:02d}"


def period_key(kind: PeriodKind, day: date) -> str:
    if kind == "week":
        year, week, _ = day.isocalendar()
        return f"week:{year}-W{week:02d}"
    return f"month:{day.year}-{day.month:02d}"


def scope_key(kind: ScopeKind, district: str = "", school_id: str = "", class_id: str = "") -> str:
    match kind:
        case "city":
            return "city"
        case "district":
            return f"district:{district}"
        case "school":
            return f"school:{school_id}"
        case "class":
            return f"class:{school_id}/{class_id}"


class CoursesReadModel(SqliteProjection):
    """Parent schools, courses, sessions, parents' points and participation, from events."""

    SCHEMA = TABLES_DDL
    # 2: weeks and months only; histograms for the district and the city, summed per batch.
    # 3: histograms for classes and schools too; participation per term; training; quotas.
    # 4: awards written a run at a time; histogram rows at zero parents deleted.
    # 5: a class a parent leaves counts them no more (it kept them until the next enrolment).
    VERSION = 5
    TABLES = (
        "parent_schools",
        "ten_haves",
        "courses",
        "course_tags",
        "sessions",
        "parents",
        "participation",
        "points_periods",
        "points_histogram",
        "term_active",
        "term_participation",
        "training_batches",
        "training_quotas",
        "training_days",
        "training_certificates",
        "lecture_quotas",
    )
    DUMPED = {
        "parent_schools": "id",
        "ten_haves": "parent_school_id, item",
        "courses": "id",
        "course_tags": "tag, course_id",
        "sessions": "id",
        "parents": "id",
        "participation": "school_id, class_id",
        "points_periods": "parent_id, period",
        "points_histogram": "scope, period, points",
        "term_active": "parent_id, term",
        "term_participation": "term, school_id, class_id",
        "training_batches": "id",
        "training_quotas": "batch_id, school_id",
        "training_days": "batch_id, day",
        "training_certificates": "batch_id, teacher_id",
        "lecture_quotas": "term",
    }

    def __init__(
        self, path: Path | str, *, today: Callable[[], date] = _today, busy_timeout_s: float = 5.0
    ) -> None:
        super().__init__(path, busy_timeout_s=busy_timeout_s)
        self._today = today
        self._histogram: Counter[tuple[str, str, int]] = Counter()

    def apply_event(
        self, conn: sqlite3.Connection, event: ContractEvent, changed: set[str]
    ) -> None:
        match event:
            case ParentSchoolRegistered():
                self._school_registered(conn, event)
            case TenHaveEvidenceRecorded():
                conn.execute(
                    "INSERT INTO ten_haves (parent_school_id, item, document_ref, dated) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (parent_school_id, item) DO UPDATE SET "
                    "document_ref = excluded.document_ref, dated = excluded.dated",
                    (
                        event.parent_school_id,
                        event.item,
                        event.document_ref,
                        event.dated.isoformat(),
                    ),
                )
            case ParentSchoolInspected():
                self._inspected(conn, event)
            case CoursePublished():
                self._course(conn, event)
            case CourseRetired():
                conn.execute(
                    "UPDATE courses SET retired_at = ? WHERE id = ?",
                    (_utc(event.retired_at), event.course_id),
                )
            case SessionScheduled():
                self._scheduled(conn, event)
                changed.add(event.session_id)
            case SessionPlaceTaken() | SessionRegistrationCancelled():
                conn.execute(
                    "UPDATE sessions SET places_filled = ?, waitlisted = ? WHERE id = ?",
                    (event.places_filled, event.waitlisted, event.session_id),
                )
                changed.add(event.session_id)
            case SessionWaitlisted():
                conn.execute(
                    "UPDATE sessions SET waitlisted = ? WHERE id = ?",
                    (event.waitlisted, event.session_id),
                )
                changed.add(event.session_id)
            case SessionAttended():
                conn.execute(
                    "UPDATE sessions SET attended = attended + 1 WHERE id = ?",
                    (event.session_id,),
                )
                changed.add(event.session_id)
            case ParentEnrolled() | PointsAwarded():
                write_run(conn, [event], self._histogram)
            case RankingConsentChanged():
                self._parent(conn, event.parent_id)
                conn.execute(
                    "UPDATE parents SET opted_in = ? WHERE id = ?",
                    (int(event.opted_in), event.parent_id),
                )
            case ParentErased():
                self._parent(conn, event.parent_id)
                conn.execute(
                    "UPDATE parents SET erased = 1, opted_in = 0 WHERE id = ?", (event.parent_id,)
                )
            case TrainingBatchScheduled():
                self._batch(conn, event)
            case TrainingEnrolled():
                conn.execute(
                    "UPDATE training_batches SET enrolled = ? WHERE id = ?",
                    (event.enrolled, event.batch_id),
                )
                conn.execute(
                    "UPDATE training_quotas SET enrolled = ? WHERE batch_id = ? AND school_id = ?",
                    (event.school_enrolled, event.batch_id, event.school_id),
                )
            case TrainingAttendanceRecorded():
                conn.execute(
                    "INSERT INTO training_days (batch_id, day, present) VALUES (?, ?, ?) "
                    "ON CONFLICT (batch_id, day) "
                    "DO UPDATE SET present = present + excluded.present",
                    (event.batch_id, event.day.isoformat(), len(event.teacher_ids)),
                )
            case TrainingCertificateIssued():
                conn.execute(
                    "INSERT INTO training_certificates (batch_id, teacher_id, certificate_no, "
                    "school_id, district, audience, issued_on) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (batch_id, teacher_id) DO NOTHING",
                    (
                        event.batch_id,
                        event.teacher_id,
                        event.certificate_no,
                        event.school_id,
                        event.district,
                        event.audience,
                        event.issued_on.isoformat(),
                    ),
                )
            case TrainingBatchCompleted():
                conn.execute(
                    "UPDATE training_batches SET certified = ?, completed_on = ? WHERE id = ?",
                    (event.certified, event.completed_on.isoformat(), event.batch_id),
                )
            case LectureQuotaSet():
                conn.execute(
                    "INSERT INTO lecture_quotas (term, starts_on, ends_on, min_lectures, schools) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (term) DO UPDATE SET "
                    "min_lectures = excluded.min_lectures, schools = excluded.schools",
                    (
                        event.term,
                        event.starts_on.isoformat(),
                        event.ends_on.isoformat(),
                        event.min_lectures,
                        json.dumps(event.schools),
                    ),
                )
            case _:
                pass  # Tolerant reader: events this model does not use are ignored.

    # -- event handlers ---------------------------------------------------------------------

    @staticmethod
    def _school_registered(conn: sqlite3.Connection, event: ParentSchoolRegistered) -> None:
        conn.execute(
            "INSERT INTO parent_schools (id, name, level, host_kind, host_id, district, "
            "registered_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "name = excluded.name, level = excluded.level, host_kind = excluded.host_kind, "
            "host_id = excluded.host_id, district = excluded.district",
            (
                event.parent_school_id,
                event.name,
                event.level,
                event.host_kind,
                event.host_id,
                event.district,
                _utc(event.registered_at),
            ),
        )

    @staticmethod
    def _inspected(conn: sqlite3.Connection, event: ParentSchoolInspected) -> None:
        verdicts = [(item, "verified") for item in event.verified] + [
            (item, "rejected") for item in event.rejected
        ]
        for item, verdict in verdicts:
            conn.execute(
                "INSERT INTO ten_haves (parent_school_id, item, verdict, inspected_on, "
                "by_department) VALUES (?, ?, ?, ?, ?) ON CONFLICT (parent_school_id, item) "
                "DO UPDATE SET verdict = excluded.verdict, inspected_on = excluded.inspected_on, "
                "by_department = excluded.by_department",
                (
                    event.parent_school_id,
                    item,
                    verdict,
                    event.inspected_on.isoformat(),
                    event.by_department,
                ),
            )
        valid_until = event.valid_until.isoformat() if event.valid_until else None
        conn.execute(
            "UPDATE parent_schools SET valid_until = ? WHERE id = ?",
            (valid_until, event.parent_school_id),
        )

    @staticmethod
    def _course(conn: sqlite3.Connection, event: CoursePublished) -> None:
        conn.execute(
            "INSERT INTO courses (id, title, problem, revision, stages, themes, steps, "
            "published_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "title = excluded.title, problem = excluded.problem, revision = excluded.revision, "
            "stages = excluded.stages, themes = excluded.themes, steps = excluded.steps, "
            "published_at = excluded.published_at",
            (
                event.course_id,
                event.title,
                event.problem,
                event.revision,
                json.dumps(event.stages),
                json.dumps(event.themes),
                json.dumps(event.steps, ensure_ascii=False),
                _utc(event.published_at),
            ),
        )
        conn.execute("DELETE FROM course_tags WHERE course_id = ?", (event.course_id,))
        tags = [f"stage:{s}" for s in event.stages] + [f"theme:{t}" for t in event.themes]
        conn.executemany(
            "INSERT INTO course_tags (tag, course_id) VALUES (?, ?)",
            [(tag, event.course_id) for tag in tags],
        )

    @staticmethod
    def _batch(conn: sqlite3.Connection, event: TrainingBatchScheduled) -> None:
        conn.execute(
            "INSERT INTO training_batches (id, title, audience, starts_on, ends_on, capacity) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (
                event.batch_id,
                event.title,
                event.audience,
                event.starts_on.isoformat(),
                event.ends_on.isoformat(),
                event.capacity,
            ),
        )
        conn.executemany(
            "INSERT INTO training_quotas (batch_id, school_id, quota) VALUES (?, ?, ?) "
            "ON CONFLICT (batch_id, school_id) DO NOTHING",
            [(event.batch_id, school, quota) for school, quota in event.quotas.items()],
        )

    @staticmethod
    def _scheduled(conn: sqlite3.Connection, event: SessionScheduled) -> None:
        conn.execute(
            "INSERT INTO sessions (id, course_id, parent_school_id, school_id, district, mode, "
            "lecturer_kind, lecturer_id, starts_at, ends_at, capacity) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (
                event.session_id,
                event.course_id,
                event.parent_school_id,
                event.school_id,
                event.district,
                event.mode,
                event.lecturer_kind,
                event.lecturer_id,
                _utc(event.starts_at),
                _utc(event.ends_at),
                event.capacity,
            ),
        )

    @staticmethod
    def _parent(conn: sqlite3.Connection, parent_id: str) -> None:
        # Events about a parent may arrive before the enrolment in a tolerant replay.
        conn.execute(
            "INSERT INTO parents (id) VALUES (?) ON CONFLICT (id) DO NOTHING", (parent_id,)
        )

    def open(self) -> Self:
        super().open()
        with self._locked() as conn:
            # The points tables of a city's 800,000 parents are hundreds of MB; SQLite's
            # default 2 MB page cache made a batch of awards re-read most of its index pages.
            conn.execute(f"PRAGMA cache_size = -{CACHE_KB}")
        return self

    def apply_events(
        self, conn: sqlite3.Connection, events: Sequence[ContractEvent], changed: set[str]
    ) -> None:
        """Enrolments and points awards, most of a semester's events, are written a run at
        a time (`parent_runs.write_run`); any other event ends a run and is written on its
        own."""
        run: list[ParentEnrolled | PointsAwarded] = []
        for event in events:
            if isinstance(event, ParentEnrolled | PointsAwarded):
                run.append(event)
                continue
            write_run(conn, run, self._histogram)
            run = []
            self.apply_event(conn, event, changed)
        write_run(conn, run, self._histogram)

    def apply(self, consumer: str, events: Sequence[Delivered]) -> None:
        # Histogram changes are summed over the batch and written once (`before_commit`):
        # a batch of 500 awards touches a few hundred totals, not 2,000 rows one by one.
        self._histogram.clear()
        super().apply(consumer, events)

    def before_commit(self, conn: sqlite3.Connection) -> None:
        conn.executemany(
            "INSERT INTO points_histogram (scope, period, points, parents) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (scope, period, points) "
            "DO UPDATE SET parents = parents + excluded.parents",
            [(*key, delta) for key, delta in self._histogram.items() if delta],
        )
        # A total nobody holds any more goes: the rows are then the same whatever the
        # batches were, so a rebuild's dump equals the live one.
        conn.executemany(
            "DELETE FROM points_histogram WHERE scope = ? AND period = ? AND points = ? "
            "AND parents = 0",
            [key for key, delta in self._histogram.items() if delta],
        )
        self._histogram.clear()

    # -- reads: parent schools ----------------------------------------------------------------

    def _school_row(self, row: sqlite3.Row) -> ParentSchoolRow:
        valid_until = date.fromisoformat(row["valid_until"]) if row["valid_until"] else None
        return ParentSchoolRow(
            id=row["id"],
            name=row["name"],
            level=row["level"],
            host_kind=row["host_kind"],
            host_id=row["host_id"],
            district=row["district"],
            valid_until=valid_until,
            meets_standard=valid_until is not None and valid_until >= self._today(),
        )

    def parent_schools(
        self,
        *,
        first: int,
        after: str | None = None,
        district: str | None = None,
        level: str | None = None,
    ) -> Page[ParentSchoolRow]:
        where, params = ["1 = 1"], []
        if district is not None:
            where.append("district = ?")
            params.append(district)
        if level is not None:
            where.append("level = ?")
            params.append(level)
        if after is not None:
            where.append("(district, level, id) > (?, ?, ?)")
            params.extend(decode_cursor("parent-school", after, 3))
        with self._locked() as conn:
            rows = conn.execute(
                f"SELECT * FROM parent_schools WHERE {' AND '.join(where)} "
                "ORDER BY district, level, id LIMIT ?",
                (*params, first + 1),
            ).fetchall()
        page = rows[:first]
        return Page(
            rows=[self._school_row(r) for r in page],
            cursors=[
                encode_cursor("parent-school", r["district"], r["level"], r["id"]) for r in page
            ],
            has_next=len(rows) > first,
        )

    def parent_school(self, parent_school_id: str) -> ParentSchoolRow | None:
        with self._locked() as conn:
            row = conn.execute(
                "SELECT * FROM parent_schools WHERE id = ?", (parent_school_id,)
            ).fetchone()
        return self._school_row(row) if row else None

    def ten_haves(self, parent_school_ids: Sequence[str]) -> dict[str, list[TenHaveRow]]:
        found: dict[str, list[TenHaveRow]] = {i: [] for i in parent_school_ids}
        if not parent_school_ids:
            return found
        marks = ",".join("?" * len(parent_school_ids))
        with self._locked() as conn:
            rows = conn.execute(
                f"SELECT * FROM ten_haves WHERE parent_school_id IN ({marks})",
                tuple(parent_school_ids),
            ).fetchall()
        for r in rows:
            found[r["parent_school_id"]].append(
                TenHaveRow(
                    item=r["item"],
                    document_ref=r["document_ref"],
                    dated=date.fromisoformat(r["dated"]) if r["dated"] else None,
                    verdict=r["verdict"],
                    inspected_on=date.fromisoformat(r["inspected_on"])
                    if r["inspected_on"]
                    else None,
                    by_department=r["by_department"],
                )
            )
        return found

    def standard(self) -> list[StandardRow]:
        """Parent schools and those meeting the standard today, per district and level."""
        with self._locked() as conn:
            rows = conn.execute(
                "SELECT district, level, COUNT(*) AS schools, "
                "SUM(CASE WHEN valid_until >= ? THEN 1 ELSE 0 END) AS meeting "
                "FROM parent_schools GROUP BY district, level ORDER BY district, level",
                (self._today().isoformat(),),
            ).fetchall()
        return [StandardRow(r["district"], r["level"], r["schools"], r["meeting"]) for r in rows]

    # -- reads: courses and sessions -----------------------------------------------------------

    @staticmethod
    def _course_row(row: sqlite3.Row) -> CourseRow:
        return CourseRow(
            id=row["id"],
            title=row["title"],
            problem=row["problem"],
            revision=int(row["revision"]),
            stages=json.loads(row["stages"]),
            themes=json.loads(row["themes"]),
            steps=json.loads(row["steps"]),
            published_at=datetime.fromisoformat(row["published_at"]),
            retired=row["retired_at"] is not None,
        )

    def courses(
        self,
        *,
        first: int,
        after: str | None = None,
        stage: str | None = None,
        theme: str | None = None,
        include_retired: bool = False,
    ) -> Page[CourseRow]:
        where, params = ["1 = 1"], []
        for tag in ([f"stage:{stage}"] if stage else []) + ([f"theme:{theme}"] if theme else []):
            where.append("id IN (SELECT course_id FROM course_tags WHERE tag = ?)")
            params.append(tag)
        if not include_retired:
            where.append("retired_at IS NULL")
        if after is not None:
            where.append("(title, id) > (?, ?)")
            params.extend(decode_cursor("course", after, 2))
        with self._locked() as conn:
            rows = conn.execute(
                f"SELECT * FROM courses WHERE {' AND '.join(where)} ORDER BY title, id LIMIT ?",
                (*params, first + 1),
            ).fetchall()
        page = rows[:first]
        return Page(
            rows=[self._course_row(r) for r in page],
            cursors=[encode_cursor("course", r["title"], r["id"]) for r in page],
            has_next=len(rows) > first,
        )

    def courses_by_id(self, ids: Sequence[str]) -> dict[str, CourseRow]:
        return {r.id: r for r in self._by_id("courses", ids, self._course_row)}

    @staticmethod
    def _session_row(row: sqlite3.Row) -> SessionRow:
        return SessionRow(
            id=row["id"],
            course_id=row["course_id"],
            parent_school_id=row["parent_school_id"],
            school_id=row["school_id"],
            district=row["district"],
            mode=row["mode"],
            lecturer_kind=row["lecturer_kind"],
            lecturer_id=row["lecturer_id"],
            starts_at=datetime.fromisoformat(row["starts_at"]),
            ends_at=datetime.fromisoformat(row["ends_at"]),
            capacity=int(row["capacity"]),
            places_filled=int(row["places_filled"]),
            waitlisted=int(row["waitlisted"]),
            attended=int(row["attended"]),
        )

    def sessions(
        self,
        *,
        first: int,
        after: str | None = None,
        upcoming_from: datetime | None = None,
        school_id: str | None = None,
    ) -> Page[SessionRow]:
        """Sessions by start time; with `upcoming_from`, only those not over by then."""
        where, params = ["1 = 1"], []
        if upcoming_from is not None:
            where.append("ends_at > ?")
            params.append(_utc(upcoming_from))
        if school_id is not None:
            where.append("school_id = ?")
            params.append(school_id)
        if after is not None:
            where.append("(starts_at, id) > (?, ?)")
            params.extend(decode_cursor("session", after, 2))
        with self._locked() as conn:
            rows = conn.execute(
                f"SELECT * FROM sessions WHERE {' AND '.join(where)} "
                "ORDER BY starts_at, id LIMIT ?",
                (*params, first + 1),
            ).fetchall()
        page = rows[:first]
        return Page(
            rows=[self._session_row(r) for r in page],
            cursors=[encode_cursor("session", r["starts_at"], r["id"]) for r in page],
            has_next=len(rows) > first,
        )

    def session(self, session_id: str) -> SessionRow | None:
        return self.sessions_by_id([session_id]).get(session_id)

    def sessions_by_id(self, ids: Sequence[str]) -> dict[str, SessionRow]:
        return {r.id: r for r in self._by_id("sessions", ids, self._session_row)}

    def _by_id(
        self, table: str, ids: Sequence[str], make: Callable[[sqlite3.Row], Any]
    ) -> list[Any]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        with self._locked() as conn:
            rows = conn.execute(
                f"SELECT * FROM {table} WHERE id IN ({marks})", tuple(ids)
            ).fetchall()
        return [make(r) for r in rows]

    # -- reads: parents, points and participation -----------------------------------------------

    def parent(self, parent_id: str) -> ParentRow | None:
        with self._locked() as conn:
            row = conn.execute("SELECT * FROM parents WHERE id = ?", (parent_id,)).fetchone()
        if row is None:
            return None
        return ParentRow(
            id=row["id"],
            school_id=row["school_id"],
            class_id=row["class_id"],
            district=row["district"],
            opted_in=bool(row["opted_in"]),
            erased=bool(row["erased"]),
        )

    def standings(self, parent: ParentRow, period: str) -> list[Standing]:
        """The parent's points and rank in their class, school, district and the city.

        One statement: the parent's points by primary key, then the four scopes'
        histogram rows for the period, a range of one index each.
        """
        kinds: tuple[ScopeKind, ...] = ("class", "school", "district", "city")
        keys = {
            scope_key(
                kind,
                district=parent.district or "",
                school_id=parent.school_id or "",
                class_id=parent.class_id or "",
            ): kind
            for kind in kinds
        }
        with self._locked() as conn:
            rows = conn.execute(STANDINGS_SQL, (parent.id, period, period, *keys)).fetchall()
        points = int(rows[0]["mine"]) if rows else 0
        found = {keys[r["scope"]]: r for r in rows if r["scope"] is not None}
        return [
            Standing(
                kind,
                points,
                1 + (int(found[kind]["above"]) if kind in found else 0),
                int(found[kind]["ranked"]) if kind in found else 0,
            )
            for kind in kinds
        ]

    @staticmethod
    def _above(
        conn: sqlite3.Connection,
        kind: ScopeKind,
        period: str,
        points: int,
        district: str = "",
        school_id: str = "",
        class_id: str = "",
    ) -> tuple[int, int]:
        """Parents of the scope with more points than `points`, and parents with any."""
        key = scope_key(kind, district=district, school_id=school_id, class_id=class_id)
        found = conn.execute(
            "SELECT COALESCE(SUM(CASE WHEN points > ? THEN parents END), 0), "
            "COALESCE(SUM(parents), 0) FROM points_histogram WHERE scope = ? AND period = ?",
            (points, key, period),
        ).fetchone()
        return int(found[0]), int(found[1])

    def ranking(
        self,
        *,
        scope: ScopeKind,
        period: str,
        first: int,
        after: str | None = None,
        district: str = "",
        school_id: str = "",
        class_id: str = "",
    ) -> Page[RankedRow]:
        """Parents with points in the scope and period, most first (ties by id)."""
        where = ["p.period = ?"]
        params: list[Any] = [period]
        match scope:
            case "district":
                where.append("p.district = ?")
                params.append(district)
            case "school":
                where.append("p.school_id = ?")
                params.append(school_id)
            case "class":
                where.extend(["p.school_id = ?", "p.class_id = ?"])
                params.extend([school_id, class_id])
            case "city":
                pass
        if after is not None:
            points, parent_id = decode_cursor("ranking", after, 2)
            if not isinstance(points, int):
                raise InvalidCursorError("the cursor is not valid")
            where.append("(p.points < ? OR (p.points = ? AND p.parent_id > ?))")
            params.extend([points, points, parent_id])
        with self._locked() as conn:
            rows = conn.execute(
                "SELECT p.parent_id, p.points, p.school_id, COALESCE(r.opted_in, 0) AS opted_in "
                "FROM points_periods p LEFT JOIN parents r ON r.id = p.parent_id "
                f"WHERE {' AND '.join(where)} ORDER BY p.points DESC, p.parent_id LIMIT ?",
                (*params, first + 1),
            ).fetchall()
            page = rows[:first]
            ranks = {
                points: 1
                + self._above(conn, scope, period, points, district, school_id, class_id)[0]
                for points in {int(r["points"]) for r in page}
            }
        return Page(
            rows=[
                RankedRow(
                    parent_id=r["parent_id"],
                    points=int(r["points"]),
                    rank=ranks[int(r["points"])],
                    opted_in=bool(r["opted_in"]),
                    school_id=r["school_id"],
                )
                for r in page
            ],
            cursors=[encode_cursor("ranking", int(r["points"]), r["parent_id"]) for r in page],
            has_next=len(rows) > first,
        )

    def participation(
        self, *, first: int, after: str | None = None, district: str | None = None
    ) -> Page[ParticipationRow]:
        """Parents enrolled and parents active (points for any activity), per school."""
        where, params = ["1 = 1"], []
        if district is not None:
            where.append("district = ?")
            params.append(district)
        having, tail = "", []
        if after is not None:
            (school,) = decode_cursor("participation", after, 1)
            having = "HAVING school_id > ?"
            tail.append(school)
        with self._locked() as conn:
            rows = conn.execute(
                "SELECT school_id, MAX(district) AS district, SUM(enrolled) AS enrolled, "
                f"SUM(active) AS active FROM participation WHERE {' AND '.join(where)} "
                f"GROUP BY school_id {having} ORDER BY school_id LIMIT ?",
                (*params, *tail, first + 1),
            ).fetchall()
        page = rows[:first]
        return Page(
            rows=[
                ParticipationRow(
                    r["school_id"], r["district"], int(r["enrolled"]), int(r["active"])
                )
                for r in page
            ],
            cursors=[encode_cursor("participation", r["school_id"]) for r in page],
            has_next=len(rows) > first,
        )

    def term_participation(
        self, term: str, *, school_id: str | None = None, district: str | None = None
    ) -> list[TermParticipationRow]:
        """Parents enrolled and parents with points earned in the term: per school, or per
        class of one school. Enrolment is today's (a class's parents as the school has them).
        """
        where, params = ["1 = 1"], []
        if school_id is not None:
            where.append("p.school_id = ?")
            params.append(school_id)
        if district is not None:
            where.append("p.district = ?")
            params.append(district)
        per_class = school_id is not None
        group = "p.school_id, p.class_id" if per_class else "p.school_id"
        with self._locked() as conn:
            rows = conn.execute(
                f"SELECT p.school_id, {'p.class_id' if per_class else 'NULL'} AS class_id, "
                "MAX(p.district) AS district, SUM(p.enrolled) AS enrolled, "
                "COALESCE(SUM(t.active), 0) AS active FROM participation p "
                "LEFT JOIN term_participation t ON t.term = ? AND t.school_id = p.school_id "
                f"AND t.class_id = p.class_id WHERE {' AND '.join(where)} "
                f"GROUP BY {group} ORDER BY {group}",
                (term, *params),
            ).fetchall()
        return [
            TermParticipationRow(
                term=term,
                school_id=r["school_id"],
                class_id=r["class_id"],
                district=r["district"],
                enrolled=int(r["enrolled"]),
                active=int(r["active"]),
            )
            for r in rows
        ]

    def lecture_quota(self, term: str, *, now: datetime) -> LectureQuotaRow | None:
        """The term's quota and each school's lectures: sessions for the school starting in
        the term (`held`: those over by `now`)."""
        with self._locked() as conn:
            quota = conn.execute("SELECT * FROM lecture_quotas WHERE term = ?", (term,)).fetchone()
            if quota is None:
                return None
            known = parse_term(term)
            lower, upper = _term_bounds(known)
            schools = json.loads(quota["schools"])
            counts = {
                r["school_id"]: (int(r["lectures"]), int(r["held"]))
                for r in conn.execute(
                    "SELECT school_id, COUNT(*) AS lectures, "
                    "SUM(CASE WHEN ends_at <= ? THEN 1 ELSE 0 END) AS held FROM sessions "
                    "WHERE school_id IS NOT NULL AND starts_at >= ? AND starts_at < ? "
                    "GROUP BY school_id",
                    (_utc(now), lower, upper),
                )
            }
        districts = _districts()
        return LectureQuotaRow(
            term=term,
            starts_on=known.starts_on,
            ends_on=known.ends_on,
            min_lectures=int(quota["min_lectures"]),
            schools=[
                QuotaRow(
                    school_id=school,
                    district=districts.get(school),
                    lectures=counts.get(school, (0, 0))[0],
                    held=counts.get(school, (0, 0))[1],
                    min_lectures=int(quota["min_lectures"]),
                )
                for school in schools
            ],
        )

    def training_batches(self, *, first: int, after: str | None = None) -> Page[TrainingBatchRow]:
        where, params = ["1 = 1"], []
        if after is not None:
            where.append("(starts_on, id) > (?, ?)")
            params.extend(decode_cursor("training-batch", after, 2))
        with self._locked() as conn:
            rows = conn.execute(
                f"SELECT * FROM training_batches WHERE {' AND '.join(where)} "
                "ORDER BY starts_on, id LIMIT ?",
                (*params, first + 1),
            ).fetchall()
        page = rows[:first]
        return Page(
            rows=[
                TrainingBatchRow(
                    id=r["id"],
                    title=r["title"],
                    audience=r["audience"],
                    starts_on=date.fromisoformat(r["starts_on"]),
                    ends_on=date.fromisoformat(r["ends_on"]),
                    capacity=int(r["capacity"]),
                    enrolled=int(r["enrolled"]),
                    certified=int(r["certified"]),
                    completed_on=date.fromisoformat(r["completed_on"])
                    if r["completed_on"]
                    else None,
                )
                for r in page
            ],
            cursors=[encode_cursor("training-batch", r["starts_on"], r["id"]) for r in page],
            has_next=len(rows) > first,
        )

    def training_quotas(self, batch_ids: Sequence[str]) -> dict[str, list[TrainingQuotaRow]]:
        found: dict[str, list[TrainingQuotaRow]] = {i: [] for i in batch_ids}
        if not batch_ids:
            return found
        marks = ",".join("?" * len(batch_ids))
        with self._locked() as conn:
            rows = conn.execute(
                f"SELECT * FROM training_quotas WHERE batch_id IN ({marks}) "
                "ORDER BY batch_id, school_id",
                tuple(batch_ids),
            ).fetchall()
        for r in rows:
            found[r["batch_id"]].append(
                TrainingQuotaRow(r["school_id"], int(r["quota"]), int(r["enrolled"]))
            )
        return found

    def trained(self, *, per_school: bool) -> list[TrainedRow]:
        """Teachers certified, per district (and school), per audience."""
        school = "school_id" if per_school else "NULL"
        group = "district, school_id, audience" if per_school else "district, audience"
        with self._locked() as conn:
            rows = conn.execute(
                f"SELECT district, {school} AS school_id, audience, COUNT(*) AS trained "
                f"FROM training_certificates GROUP BY {group} ORDER BY {group}"
            ).fetchall()
        return [
            TrainedRow(r["district"], r["school_id"], r["audience"], int(r["trained"]))
            for r in rows
        ]


def _term_bounds(term: Term) -> tuple[str, str]:
    """The term's first and after-last moments in the city, as stored (UTC ISO)."""
    start = datetime.combine(term.starts_on, datetime.min.time(), CST)
    end = datetime.combine(term.ends_on + timedelta(days=1), datetime.min.time(), CST)
    return _utc(start), _utc(end)


def _districts() -> dict[str, str]:
    return {school.id: school.district for school in load_city().schools}
