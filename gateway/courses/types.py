"""GraphQL types of the courses feature, read from the read model's rows."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum

import strawberry

from gateway.core import personal
from gateway.core.figures import Count, count
from gateway.courses import state
from gateway.courses.readmodel import (
    CourseRow,
    LectureQuotaRow,
    ParentSchoolRow,
    ParticipationRow,
    QuotaRow,
    SessionRow,
    StandardRow,
    TenHaveRow,
    TermParticipationRow,
    TrainedRow,
    TrainingBatchRow,
    TrainingQuotaRow,
)

PARTICIPATION_TARGET = 0.9
"""The alliance's target share of parents taking part (seeds: 80%+ reached, 90% target)."""
PARTICIPATION_FLOOR = 0.8
"""The share the seeds report as reached (80%+): below it a class or school lags."""


@strawberry.enum(description="Level of a parent school.")
class ParentSchoolLevel(Enum):
    CITY_COUNTY = "city-county"
    SCHOOL = "school"
    COMMUNITY = "community"
    ONLINE = "online"


@strawberry.enum(description='An item of the "ten haves" (十有) standard.')
class TenHaveItem(Enum):
    ORGANISATION = "organisation"
    SIGNAGE = "signage"
    TEACHING_PLAN = "teaching-plan"
    MANAGEMENT_RULES = "management-rules"
    WORK_LEDGER = "work-ledger"
    TEACHERS = "teachers"
    MATERIALS = "materials"
    ACTIVITIES = "activities"
    INSPECTION = "inspection"
    FUNDING = "funding"


@strawberry.enum(description="Child stage a course is for.")
class ChildStage(Enum):
    PRESCHOOL = "preschool"
    PRIMARY = "primary"
    MIDDLE = "middle"
    HIGH = "high"


@strawberry.enum(description="Theme of a course.")
class CourseTheme(Enum):
    MENTAL_HEALTH = "mental-health"
    PARENT_CHILD_COMMUNICATION = "parent-child-communication"
    STUDY_GUIDANCE = "study-guidance"
    LIFE_EDUCATION = "life-education"
    EMOTION_MANAGEMENT = "emotion-management"
    DOUBLE_REDUCTION = "double-reduction"
    SAFETY = "safety"
    RULE_OF_LAW = "rule-of-law"
    FAMILY_VALUES = "family-values"


@strawberry.enum(description="Where a session is held.")
class SessionMode(Enum):
    IN_PERSON = "in-person"
    ONLINE = "online"


@strawberry.enum(description="A period points are counted over (weeks and months in China time).")
class PointsPeriod(Enum):
    WEEK = "week"
    MONTH = "month"


@strawberry.enum(description="Whom a rank is among.")
class RankScope(Enum):
    CLASS = "class"
    SCHOOL = "school"
    DISTRICT = "district"
    CITY = "city"


def _enum(kind: type[Enum], value: str) -> Enum | None:
    try:
        return kind(value)
    except ValueError:
        return None  # A value this gateway does not know yet (tolerant reader).


@strawberry.type(description='One item of a parent school\'s "ten haves" checklist.')
class TenHave:
    item: TenHaveItem | None = strawberry.field(description="The item.")
    document_ref: str | None = strawberry.field(description="Reference of the evidence on file.")
    evidence_dated: date | None = strawberry.field(description="Date of the evidence.")
    verdict: str | None = strawberry.field(description="verified, rejected, or null (none yet).")
    inspected_on: date | None = strawberry.field(description="Day of the last verdict.")
    inspected_by: str | None = strawberry.field(description="Department of the inspector.")

    @classmethod
    def from_row(cls, row: TenHaveRow) -> TenHave:
        return cls(
            item=_enum(TenHaveItem, row.item),  # type: ignore[arg-type]
            document_ref=row.document_ref,
            evidence_dated=row.dated,
            verdict=row.verdict,
            inspected_on=row.inspected_on,
            inspected_by=row.by_department,
        )


@strawberry.type(description="A parent school at one of the three levels, or online.")
class ParentSchool:
    id: strawberry.ID = strawberry.field(description="Parent school id (UUID).")
    name: str = strawberry.field(description="Public name.")
    level: ParentSchoolLevel | None = strawberry.field(description="Level.")
    host_kind: str = strawberry.field(description="district, school, community or platform.")
    host_id: str = strawberry.field(description="The host's code.")
    district: str = strawberry.field(description="District or county-level unit.")
    meets_standard: bool = strawberry.field(
        description="All ten items verified, and the oldest verdict less than a year old."
    )
    valid_until: date | None = strawberry.field(
        description="Last day the standard holds without a new inspection (null: not met)."
    )

    @strawberry.field(description="The ten items in the standard's order, with their verdicts.")
    async def ten_haves(self, info: strawberry.Info) -> list[TenHave]:
        rows = {r.item: r for r in await state.loaders(info).ten_haves.load(str(self.id))}
        return [
            TenHave.from_row(
                rows.get(item.value, TenHaveRow(item.value, None, None, None, None, None))
            )
            for item in TenHaveItem
        ]

    @strawberry.field(description="How many of the ten items are verified now.")
    async def items_verified(self, info: strawberry.Info) -> int:
        rows = await state.loaders(info).ten_haves.load(str(self.id))
        return sum(1 for r in rows if r.verdict == "verified")

    @classmethod
    def from_row(cls, row: ParentSchoolRow) -> ParentSchool:
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            level=_enum(ParentSchoolLevel, row.level),  # type: ignore[arg-type]
            host_kind=row.host_kind,
            host_id=row.host_id,
            district=row.district,
            meets_standard=row.meets_standard,
            valid_until=row.valid_until,
        )


@strawberry.type(description="Parent schools meeting the ten haves, in one district and level.")
class StandardFigure:
    district: str = strawberry.field(description="District.")
    level: ParentSchoolLevel | None = strawberry.field(description="Level.")
    schools: int = strawberry.field(description="Parent schools registered.")
    meeting: int = strawberry.field(description="Of those, meeting the standard today.")
    share: float = strawberry.field(description="meeting / schools, from 0 to 1.")

    @classmethod
    def from_row(cls, row: StandardRow) -> StandardFigure:
        return cls(
            district=row.district,
            level=_enum(ParentSchoolLevel, row.level),  # type: ignore[arg-type]
            schools=row.schools,
            meeting=row.meeting,
            share=round(row.meeting / row.schools, 4) if row.schools else 0.0,
        )


@strawberry.type(description="A course of the course supermarket (课程超市).")
class Course:
    id: strawberry.ID = strawberry.field(description="Course id (UUID).")
    title: str = strawberry.field(description="Title.")
    problem: str = strawberry.field(description="The typical family problem it answers.")
    revision: int = strawberry.field(description="1, then one more per revision published.")
    stages: list[ChildStage] = strawberry.field(description="Child stages it is for.")
    themes: list[CourseTheme] = strawberry.field(description="Themes.")
    steps: list[str] = strawberry.field(
        description="The five steps: video intro, discussion, problem summary, homework, "
        "micro-lesson."
    )
    published_at: datetime = strawberry.field(description="When this revision was published.")
    retired: bool = strawberry.field(description="Taken out of the catalogue.")

    @classmethod
    def from_row(cls, row: CourseRow) -> Course:
        return cls(
            id=strawberry.ID(row.id),
            title=row.title,
            problem=row.problem,
            revision=row.revision,
            stages=[s for s in (_enum(ChildStage, v) for v in row.stages) if s],  # type: ignore[misc]
            themes=[t for t in (_enum(CourseTheme, v) for v in row.themes) if t],  # type: ignore[misc]
            steps=row.steps,
            published_at=row.published_at,
            retired=row.retired,
        )


@strawberry.type(description="A lecture session with its places.")
class Session:
    id: strawberry.ID = strawberry.field(description="Session id (UUID).")
    course_id: strawberry.ID = strawberry.field(description="The course taught.")
    mode: SessionMode | None = strawberry.field(description="in person or online.")
    parent_school_id: strawberry.ID | None = strawberry.field(description="Where it is held.")
    school_id: str | None = strawberry.field(description="The school it is for, if any.")
    district: str = strawberry.field(description="District it counts for.")
    lecturer_kind: str = strawberry.field(description="volunteer or teacher.")
    lecturer_id: str = strawberry.field(description="The lecturer's id.")
    starts_at: datetime = strawberry.field(description="Start (UTC).")
    ends_at: datetime = strawberry.field(description="End (UTC).")
    capacity: int = strawberry.field(description="Number of places.")
    places_filled: int = strawberry.field(description="Places taken.")
    places_left: int = strawberry.field(description="Places still free.")
    waitlisted: int = strawberry.field(description="Parents on the waitlist.")
    attended: int = strawberry.field(description="Attendances recorded.")

    @strawberry.field(description="The course, if the read model knows it.")
    async def course(self, info: strawberry.Info) -> Course | None:
        row = await state.loaders(info).course.load(str(self.course_id))
        return Course.from_row(row) if row else None

    @classmethod
    def from_row(cls, row: SessionRow) -> Session:
        return cls(
            id=strawberry.ID(row.id),
            course_id=strawberry.ID(row.course_id),
            mode=_enum(SessionMode, row.mode),  # type: ignore[arg-type]
            parent_school_id=strawberry.ID(row.parent_school_id) if row.parent_school_id else None,
            school_id=row.school_id,
            district=row.district,
            lecturer_kind=row.lecturer_kind,
            lecturer_id=row.lecturer_id,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            capacity=row.capacity,
            places_filled=row.places_filled,
            places_left=row.places_left,
            waitlisted=row.waitlisted,
            attended=row.attended,
        )


@strawberry.type(description="A parent's rank among the parents of one scope.")
class Rank:
    scope: RankScope = strawberry.field(description="Among whom.")
    rank: int = strawberry.field(description="1 + parents with more points; ties share it.")
    parents_ranked: int = strawberry.field(description="Parents with points in this scope.")


@strawberry.type(description="A parent's points and ranks in one period.")
class ParentPoints:
    parent_id: strawberry.ID = strawberry.field(description="Parent id.")
    period: str = strawberry.field(description='The period, e.g. "month:2026-11".')
    points: int = strawberry.field(description="Points earned in the period.")
    ranks: list[Rank] = strawberry.field(description="Class, school, district and city.")


@strawberry.type(
    description="A place in a ranking. The name shows only for parents who opted in (or to "
    "the bureau's staff covering the school), the id only to staff covering the school."
)
class RankingEntry:
    rank: int = strawberry.field(description="1 + parents with more points; ties share it.")
    points: int = strawberry.field(description="Points in the period.")
    parent_id: strawberry.ID | None = strawberry.field(description="For staff only; else null.")
    lookup_id: strawberry.Private[str | None] = None

    @strawberry.field(
        description="Name as the courses service gives it to the caller (each read logged); "
        "null unless the parent opted in to be named, or the caller is the bureau's staff."
    )
    async def name(self, info: strawberry.Info) -> str | None:
        if self.lookup_id is None:
            return None
        shown = personal.shown(await personal.resolve(info, state.NAMES, self.lookup_id))
        return None if shown is None else str(shown)


@strawberry.type(
    description="Parents taking part at one school: enrolled, active (any points earned), "
    "the rate against the target. Counts under five are suppressed, and the rate with them."
)
class Participation:
    school_id: str = strawberry.field(description="School.")
    district: str | None = strawberry.field(description="District.")
    enrolled: Count = strawberry.field(description="Parents enrolled.")
    active: Count = strawberry.field(
        description="Parents with any attendance, completion or homework."
    )
    rate: float | None = strawberry.field(description="active / enrolled; null when suppressed.")
    target: float = strawberry.field(description="The target rate.")
    meets_target: bool | None = strawberry.field(
        description="rate >= target; null when suppressed."
    )

    @classmethod
    def from_row(cls, row: ParticipationRow) -> Participation:
        enrolled, active = count(row.enrolled), count(row.active)
        shown = enrolled.value is not None and active.value is not None
        rate = round(row.active / row.enrolled, 4) if shown and row.enrolled else None
        return cls(
            school_id=row.school_id,
            district=row.district,
            enrolled=enrolled,
            active=active,
            rate=rate,
            target=PARTICIPATION_TARGET,
            meets_target=None if rate is None else rate >= PARTICIPATION_TARGET,
        )


@strawberry.type(
    description="Parents taking part in one term, per school or per class of a school: "
    "enrolled, active (points earned in the term), the rate against the 80% floor and the "
    "90% target. Counts under five are suppressed, and the rate with them."
)
class TermParticipation:
    term: str = strawberry.field(description="The term, e.g. 2026-2027-term-1.")
    school_id: str = strawberry.field(description="School.")
    class_id: str | None = strawberry.field(description="Class (null: the whole school).")
    district: str | None = strawberry.field(description="District.")
    enrolled: Count = strawberry.field(description="Parents enrolled.")
    active: Count = strawberry.field(description="Parents with points earned in the term.")
    rate: float | None = strawberry.field(description="active / enrolled; null when suppressed.")
    floor: float = strawberry.field(description="The rate reached so far in the seeds (0.8).")
    target: float = strawberry.field(description="The target rate (0.9).")
    meets_floor: bool | None = strawberry.field(description="rate >= floor; null if suppressed.")
    meets_target: bool | None = strawberry.field(description="rate >= target; null if suppressed.")

    @classmethod
    def from_row(cls, row: TermParticipationRow) -> TermParticipation:
        enrolled, active = count(row.enrolled), count(row.active)
        shown = enrolled.value is not None and active.value is not None
        rate = round(row.active / row.enrolled, 4) if shown and row.enrolled else None
        return cls(
            term=row.term,
            school_id=row.school_id,
            class_id=row.class_id,
            district=row.district,
            enrolled=enrolled,
            active=active,
            rate=rate,
            floor=PARTICIPATION_FLOOR,
            target=PARTICIPATION_TARGET,
            meets_floor=None if rate is None else rate >= PARTICIPATION_FLOOR,
            meets_target=None if rate is None else rate >= PARTICIPATION_TARGET,
        )


@strawberry.type(description="One school's lectures against the term's quota.")
class LectureProgress:
    school_id: str = strawberry.field(description="School.")
    district: str | None = strawberry.field(description="District (contracts/city.json).")
    lectures: int = strawberry.field(description="Sessions for the school starting in the term.")
    held: int = strawberry.field(description="Of those, over by now.")
    min_lectures: int = strawberry.field(description="The quota.")
    lagging: bool = strawberry.field(description="Fewer lectures than the quota.")

    @classmethod
    def from_row(cls, row: QuotaRow) -> LectureProgress:
        return cls(
            school_id=row.school_id,
            district=row.district,
            lectures=row.lectures,
            held=row.held,
            min_lectures=row.min_lectures,
            lagging=row.lagging,
        )


@strawberry.type(description='A term\'s lecture quota: "each school at least N lectures a term".')
class LectureQuota:
    term: str = strawberry.field(description="The term, e.g. 2026-2027-term-1.")
    starts_on: date = strawberry.field(description="First day of the term.")
    ends_on: date = strawberry.field(description="Last day of the term.")
    min_lectures: int = strawberry.field(description="Lectures each school holds at least.")
    schools: list[LectureProgress] = strawberry.field(description="Every school held to it.")
    lagging: list[LectureProgress] = strawberry.field(
        description="Schools below the quota, fewest lectures first."
    )

    @classmethod
    def from_row(cls, row: LectureQuotaRow) -> LectureQuota:
        schools = [LectureProgress.from_row(r) for r in row.schools]
        return cls(
            term=row.term,
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            min_lectures=row.min_lectures,
            schools=schools,
            lagging=sorted(
                (s for s in schools if s.lagging), key=lambda s: (s.lectures, s.school_id)
            ),
        )


@strawberry.enum(description="Who a training batch is for.")
class TrainingAudience(Enum):
    HEAD_TEACHER = "head-teacher"
    MANAGER = "manager"
    LECTURER = "lecturer"


@strawberry.type(description="A school's places in a training batch.")
class TrainingQuota:
    school_id: str = strawberry.field(description="School.")
    quota: int = strawberry.field(description="Places.")
    enrolled: int = strawberry.field(description="Teachers enrolled.")

    @classmethod
    def from_row(cls, row: TrainingQuotaRow) -> TrainingQuota:
        return cls(school_id=row.school_id, quota=row.quota, enrolled=row.enrolled)


@strawberry.type(description="A batch of teacher training (head teachers: 150-180, one day).")
class TrainingBatch:
    id: strawberry.ID = strawberry.field(description="Batch id (UUID).")
    title: str = strawberry.field(description="Title.")
    audience: TrainingAudience | None = strawberry.field(description="Who it trains.")
    starts_on: date = strawberry.field(description="First day.")
    ends_on: date = strawberry.field(description="Last day.")
    capacity: int = strawberry.field(description="Places.")
    enrolled: int = strawberry.field(description="Teachers enrolled.")
    certified: int = strawberry.field(description="Certificates issued (present every day).")
    completed_on: date | None = strawberry.field(description="Day it was closed, if it was.")

    @strawberry.field(description="Places per school and teachers each enrolled.")
    async def quotas(self, info: strawberry.Info) -> list[TrainingQuota]:
        rows = await state.loaders(info).training_quotas.load(str(self.id))
        return [TrainingQuota.from_row(r) for r in rows]

    @classmethod
    def from_row(cls, row: TrainingBatchRow) -> TrainingBatch:
        return cls(
            id=strawberry.ID(row.id),
            title=row.title,
            audience=_enum(TrainingAudience, row.audience),  # type: ignore[arg-type]
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            capacity=row.capacity,
            enrolled=row.enrolled,
            certified=row.certified,
            completed_on=row.completed_on,
        )


@strawberry.type(description="Teachers certified by training, per district or per school.")
class TrainedFigure:
    district: str = strawberry.field(description="District.")
    school_id: str | None = strawberry.field(description="School (null: the whole district).")
    audience: TrainingAudience | None = strawberry.field(description="Who was trained.")
    trained: int = strawberry.field(description="Teachers certified (staff, not children).")

    @classmethod
    def from_row(cls, row: TrainedRow) -> TrainedFigure:
        return cls(
            district=row.district,
            school_id=row.school_id,
            audience=_enum(TrainingAudience, row.audience),  # type: ignore[arg-type]
            trained=row.trained,
        )
