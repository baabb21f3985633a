"""Parent schools, courses, sessions, parents and the points rules: aggregates and rules.

No I/O here. Times given to a rule come from the application (`now`), so the rules are
tested without a clock.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal, get_args
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from contracts.courses import Activity, Audience, Level, Mode, Stage, TenHave, Term, Theme
from services.kit.errors import ConflictError, DomainError

TEN_HAVES: tuple[str, ...] = get_args(TenHave)
LEVELS: tuple[str, ...] = get_args(Level)
STAGES: tuple[str, ...] = get_args(Stage)
THEMES: tuple[str, ...] = get_args(Theme)
MODES: tuple[str, ...] = get_args(Mode)
ACTIVITIES: tuple[str, ...] = get_args(Activity)
FIVE_STEPS = ("video intro", "discussion", "problem summary", "homework", "micro-lesson")
# A verdict counts for a year: the standard must be inspected again every year.
INSPECTION_VALID = timedelta(days=365)
# The host checks parents in from an hour before the lecture to an hour after its end.
CHECK_IN_SLACK = timedelta(hours=1)
Verdict = Literal["verified", "rejected"]
AUDIENCES: tuple[str, ...] = get_args(Audience)
# Head teachers train in one day, managers in three, lecturer teams in two (seeds).
TRAINING_DAYS = {"head-teacher": 1, "manager": 3, "lecturer": 2}
# A head teachers' batch fills a hall: 150 to 180 of them; the others are smaller groups.
BATCH_SIZES = {"head-teacher": (150, 180), "manager": (1, 180), "lecturer": (1, 180)}


class InvalidTimeError(DomainError):
    """A time given makes no sense for this (an end before a start, a day in the future)."""

    code = "invalid-time"


class EvidenceMissingError(DomainError):
    """An item cannot be verified without evidence on file."""

    code = "evidence-missing"


class NotCommunityParentSchoolError(DomainError):
    """The Women's Federation inspects community parent schools only."""

    code = "not-a-community-parent-school"


class CourseRetiredError(ConflictError):
    """The course was retired: no new revision or session."""

    code = "course-retired"


class RegistrationClosedError(DomainError):
    """The session has started (in person) or ended (online): registration is closed."""

    code = "registration-closed"


class AlreadyRegisteredError(ConflictError):
    """The parent already holds a place, or a place on the waitlist, on this session."""

    code = "already-registered"


class NotRegisteredError(ConflictError):
    """The parent holds no place on this session (or it is in the wrong state for this)."""

    code = "not-registered"


class ParentErasedError(ConflictError):
    """The parent's personal data was erased: nothing new is recorded about them."""

    code = "person-erased"


class AlreadyAwardedError(ConflictError):
    """Points for this activity were already awarded to this parent."""

    code = "already-awarded"


class OverQuotaError(DomainError):
    """More places than the batch has, or more teachers than the school's quota."""

    code = "over-quota"


class UnknownSchoolError(DomainError):
    """A school the city's list (contracts/city.json) does not know."""

    code = "unknown-school"


class TrainingClosedError(ConflictError):
    """The batch has started (no more enrolment) or was completed (nothing more recorded)."""

    code = "training-closed"


class NotEnrolledError(ConflictError):
    """A teacher not enrolled in the batch."""

    code = "not-enrolled"


class ParentSchool(Aggregate):
    """A parent school at one of the three levels, or online, with its "ten haves" checklist."""

    @event("Registered")
    def __init__(
        self,
        name: str,
        level: str,
        host_kind: str,
        host_id: str,
        district: str,
        registered_at: datetime,
    ) -> None:
        self.name = name
        self.level = level
        self.host_kind = host_kind
        self.host_id = host_id
        self.district = district
        self.registered_at = registered_at
        # item -> {"document_ref": str, "dated": iso date}
        self.evidence: dict[str, dict[str, str]] = {}
        # item -> {"verdict": verified|rejected, "inspected_on": iso date}
        self.verdicts: dict[str, dict[str, str]] = {}

    def record_evidence(self, item: str, document_ref: str, dated: date, today: date) -> None:
        if dated > today:
            raise InvalidTimeError("evidence cannot be dated in the future")
        self._evidence_recorded(item=item, document_ref=document_ref, dated=dated.isoformat())

    @event("EvidenceRecorded")
    def _evidence_recorded(self, item: str, document_ref: str, dated: str) -> None:
        self.evidence[item] = {"document_ref": document_ref, "dated": dated}

    def inspect(
        self,
        *,
        inspection_id: str,
        verdicts: dict[str, str],
        inspected_on: date,
        by_department: str,
        today: date,
    ) -> None:
        if not verdicts:
            raise DomainError("an inspection gives a verdict on at least one item")
        if inspected_on > today:
            raise InvalidTimeError("an inspection cannot take place in the future")
        missing = sorted(
            i for i, v in verdicts.items() if v == "verified" and i not in self.evidence
        )
        if missing:
            raise EvidenceMissingError(f"no evidence on file for: {', '.join(missing)}")
        after = self.verdicts | {
            item: {"verdict": verdict, "inspected_on": inspected_on.isoformat()}
            for item, verdict in verdicts.items()
        }
        valid_until = _valid_until(after)
        self._inspected(
            inspection_id=inspection_id,
            verdicts=dict(sorted(verdicts.items())),
            inspected_on=inspected_on.isoformat(),
            by_department=by_department,
            meets_standard=valid_until is not None and valid_until >= inspected_on,
            valid_until=valid_until.isoformat() if valid_until else None,
        )

    @event("Inspected")
    def _inspected(
        self,
        inspection_id: str,
        verdicts: dict[str, str],
        inspected_on: str,
        by_department: str,
        meets_standard: bool,
        valid_until: str | None,
    ) -> None:
        for item, verdict in verdicts.items():
            self.verdicts[item] = {"verdict": verdict, "inspected_on": inspected_on}

    def meets_standard_on(self, day: date) -> bool:
        """All ten items verified, the oldest verdict not older than a year."""
        valid_until = _valid_until(self.verdicts)
        return valid_until is not None and day <= valid_until


def _valid_until(verdicts: dict[str, dict[str, str]]) -> date | None:
    """The last day all ten verdicts hold together; None unless all ten are verified."""
    if any(verdicts.get(item, {}).get("verdict") != "verified" for item in TEN_HAVES):
        return None
    oldest = min(date.fromisoformat(verdicts[item]["inspected_on"]) for item in TEN_HAVES)
    return oldest + INSPECTION_VALID


class Course(Aggregate):
    """A course of the course supermarket, built on the five-step method; revised, retired."""

    @event("Published")
    def __init__(
        self,
        title: str,
        problem: str,
        stages: list[str],
        themes: list[str],
        steps: list[str],
        published_at: datetime,
    ) -> None:
        self.revision = 1
        self._take(title, problem, stages, themes, steps)
        self.published_at = published_at
        self.retired_at: datetime | None = None

    def _take(
        self, title: str, problem: str, stages: list[str], themes: list[str], steps: list[str]
    ) -> None:
        self.title = title
        self.problem = problem
        self.stages = list(stages)
        self.themes = list(themes)
        self.steps = list(steps)

    @property
    def retired(self) -> bool:
        return self.retired_at is not None

    def revise(
        self,
        *,
        title: str,
        problem: str,
        stages: list[str],
        themes: list[str],
        steps: list[str],
        published_at: datetime,
    ) -> None:
        self.refuse_if_retired()
        self._revised(
            revision=self.revision + 1,
            title=title,
            problem=problem,
            stages=stages,
            themes=themes,
            steps=steps,
            published_at=published_at,
        )

    @event("Revised")
    def _revised(
        self,
        revision: int,
        title: str,
        problem: str,
        stages: list[str],
        themes: list[str],
        steps: list[str],
        published_at: datetime,
    ) -> None:
        self.revision = revision
        self._take(title, problem, stages, themes, steps)
        self.published_at = published_at

    def retire(self, at: datetime) -> None:
        self.refuse_if_retired()
        self._retired(retired_at=at)

    @event("Retired")
    def _retired(self, retired_at: datetime) -> None:
        self.retired_at = retired_at

    def refuse_if_retired(self) -> None:
        if self.retired:
            raise CourseRetiredError("the course was retired")


class Session(Aggregate):
    """A lecture session with a capacity, a waitlist kept in order, and attendance."""

    @event("Scheduled")
    def __init__(
        self,
        course_id: str,
        parent_school_id: str | None,
        school_id: str | None,
        district: str,
        mode: str,
        lecturer_kind: str,
        lecturer_id: str,
        starts_at: datetime,
        ends_at: datetime,
        capacity: int,
    ) -> None:
        self.course_id = course_id
        self.parent_school_id = parent_school_id
        self.school_id = school_id
        self.district = district
        self.mode = mode
        self.lecturer_kind = lecturer_kind
        self.lecturer_id = lecturer_id
        self.starts_at = starts_at
        self.ends_at = ends_at
        self.capacity = capacity
        # parent id -> "registered" | "attended", in the order places were taken
        self.places: dict[str, str] = {}
        self.waitlist: list[str] = []

    @classmethod
    def schedule(cls, *, now: datetime, **fields: Any) -> Session:
        starts_at: datetime = fields["starts_at"]
        ends_at: datetime = fields["ends_at"]
        if ends_at <= starts_at:
            raise InvalidTimeError("a session must end after it starts")
        if ends_at <= now:
            raise InvalidTimeError("a session cannot be scheduled once it is over")
        return cls(**fields)

    @property
    def places_filled(self) -> int:
        return len(self.places)

    @property
    def places_left(self) -> int:
        return max(self.capacity - self.places_filled, 0)

    def closes_at(self) -> datetime:
        # An online session can be joined while it runs; a lecture hall closes at the start.
        return self.ends_at if self.mode == "online" else self.starts_at

    def register(self, parent: Parent, now: datetime) -> bool:
        """Take a place, or the next place on the waitlist; True when a place was taken."""
        parent.refuse_if_erased()
        parent_id = str(parent.id)
        if now >= self.closes_at():
            raise RegistrationClosedError("registration for this session is closed")
        if parent_id in self.places or parent_id in self.waitlist:
            raise AlreadyRegisteredError("the parent is already registered for this session")
        if self.places_left > 0:
            self._place_taken(
                parent_id=parent_id,
                promoted=False,
                places_filled=self.places_filled + 1,
                waitlisted=len(self.waitlist),
            )
            return True
        self._waitlisted(parent_id=parent_id, position=len(self.waitlist) + 1)
        return False

    # Events carry the counts after them: readers keep places left without replaying.
    @event("PlaceTaken")
    def _place_taken(
        self, parent_id: str, promoted: bool, places_filled: int, waitlisted: int
    ) -> None:
        if promoted:
            self.waitlist.remove(parent_id)
        self.places[parent_id] = "registered"

    @event("Waitlisted")
    def _waitlisted(self, parent_id: str, position: int) -> None:
        self.waitlist.append(parent_id)

    def cancel(self, parent_id: str) -> str | None:
        """Give back a place (or leave the waitlist); the parent promoted into it, if any."""
        if parent_id in self.waitlist:
            self._cancelled(
                parent_id=parent_id,
                from_waitlist=True,
                places_filled=self.places_filled,
                waitlisted=len(self.waitlist) - 1,
            )
            return None
        if self.places.get(parent_id) != "registered":
            raise NotRegisteredError("only a place not yet attended can be given back")
        self._cancelled(
            parent_id=parent_id,
            from_waitlist=False,
            places_filled=self.places_filled - 1,
            waitlisted=len(self.waitlist),
        )
        if self.waitlist and self.places_left > 0:
            promoted = self.waitlist[0]
            self._place_taken(
                parent_id=promoted,
                promoted=True,
                places_filled=self.places_filled + 1,
                waitlisted=len(self.waitlist) - 1,
            )
            return promoted
        return None

    @event("RegistrationCancelled")
    def _cancelled(
        self, parent_id: str, from_waitlist: bool, places_filled: int, waitlisted: int
    ) -> None:
        if from_waitlist:
            self.waitlist.remove(parent_id)
        else:
            del self.places[parent_id]

    def attend(self, parent: Parent, at: datetime, now: datetime) -> str:
        """Record attendance; the activity it earns points for."""
        parent_id = str(parent.id)
        if self.places.get(parent_id) != "registered":
            raise NotRegisteredError("attendance needs a registered place not yet attended")
        if at > now:
            raise InvalidTimeError("attendance cannot be recorded ahead of time")
        if self.mode == "online":
            if not self.starts_at <= at <= self.ends_at:
                raise InvalidTimeError("an online session is completed while it is open")
        elif not self.starts_at - CHECK_IN_SLACK <= at <= self.ends_at + CHECK_IN_SLACK:
            raise InvalidTimeError(
                "check-in falls between an hour before the session and an hour after its end"
            )
        # The parent's school and district go with it, so attendances count per school.
        self._attended(
            parent_id=parent_id, at=at, school_id=parent.school_id, district=parent.district
        )
        return "online-completion" if self.mode == "online" else "attendance"

    @event("Attended")
    def _attended(
        self,
        parent_id: str,
        at: datetime,
        school_id: str | None = None,
        district: str | None = None,
    ) -> None:
        # Attendances recorded before the school went with them have neither (None).
        self.places[parent_id] = "attended"


class Parent(Aggregate):
    """A parent enrolled in their child's school's parent school; earns points.

    The name is personal data: the events hold it as a data-key token only.
    """

    @event("Enrolled")
    def __init__(
        self,
        id: UUID,
        name_token: str,
        school_id: str,
        class_id: str,
        district: str,
        enrolled_at: datetime,
    ) -> None:
        self.name_token = name_token
        self.school_id = school_id
        self.class_id = class_id
        self.district = district
        self.enrolled_at = enrolled_at
        self.ranking_opt_in = False
        self.points = 0
        self.awarded: set[str] = set()
        self.erased_at: datetime | None = None

    @property
    def erased(self) -> bool:
        return self.erased_at is not None

    def refuse_if_erased(self) -> None:
        if self.erased:
            raise ParentErasedError(
                "this parent's personal data was erased: nothing new is recorded about them"
            )

    def consent_to_ranking(self, opted_in: bool) -> bool:
        """Record the choice; False (and no event) when it is already the one on record."""
        self.refuse_if_erased()
        if opted_in == self.ranking_opt_in:
            return False
        self._consent_changed(opted_in=opted_in)
        return True

    @event("RankingConsentChanged")
    def _consent_changed(self, opted_in: bool) -> None:
        self.ranking_opt_in = opted_in

    def award(self, activity: str, source_id: str, rules: PointsRules | None, at: datetime) -> int:
        self.refuse_if_erased()
        key = f"{activity}:{source_id}"
        if key in self.awarded:
            raise AlreadyAwardedError(f"points for this {activity} were already awarded")
        terms = PointsRules.terms_of(rules)
        points = terms.points_for(activity)
        self._awarded(
            activity=activity,
            source_id=source_id,
            points=points,
            rule_version=terms.version,
            earned_at=at,
            school_id=self.school_id,
            class_id=self.class_id,
            district=self.district,
        )
        return points

    @event("PointsAwarded")
    def _awarded(
        self,
        activity: str,
        source_id: str,
        points: int,
        rule_version: int,
        earned_at: datetime,
        school_id: str,
        class_id: str,
        district: str,
    ) -> None:
        self.awarded.add(f"{activity}:{source_id}")
        self.points += points

    def erase(self, at: datetime) -> bool:
        if self.erased:
            return False
        self._erased(erased_at=at)
        return True

    @event("Erased")
    def _erased(self, erased_at: datetime) -> None:
        self.erased_at = erased_at
        self.ranking_opt_in = False


@dataclass(frozen=True)
class PointsTerms:
    """One version of the points rules."""

    version: int
    attendance: int
    online_completion: int
    homework: int

    def points_for(self, activity: str) -> int:
        return {
            "attendance": self.attendance,
            "online-completion": self.online_completion,
            "homework": self.homework,
        }[activity]


# The rules the city starts with (version 1), before anyone changes them.
STARTING_TERMS = PointsTerms(version=1, attendance=10, online_completion=5, homework=3)
POINTS_RULES_ID = uuid5(NAMESPACE_URL, "tongxin:courses:points-rules")


class PointsRules(Aggregate):
    """The city's points rules as data: each change is a new version from its time on."""

    @event("Started")
    def __init__(
        self, id: UUID, version: int, attendance: int, online_completion: int, homework: int,
        changed_at: datetime,
    ) -> None:  # fmt: skip
        self._set(version, attendance, online_completion, homework)

    def _set(self, version: int, attendance: int, online_completion: int, homework: int) -> None:
        self.terms = PointsTerms(version, attendance, online_completion, homework)

    @classmethod
    def first_change(
        cls, attendance: int, online_completion: int, homework: int, at: datetime
    ) -> PointsRules:
        return cls(
            id=POINTS_RULES_ID,
            version=STARTING_TERMS.version + 1,
            attendance=attendance,
            online_completion=online_completion,
            homework=homework,
            changed_at=at,
        )

    def change(self, attendance: int, online_completion: int, homework: int, at: datetime) -> None:
        self._changed(
            version=self.terms.version + 1,
            attendance=attendance,
            online_completion=online_completion,
            homework=homework,
            changed_at=at,
        )

    @event("Changed")
    def _changed(
        self, version: int, attendance: int, online_completion: int, homework: int,
        changed_at: datetime,
    ) -> None:  # fmt: skip
        self._set(version, attendance, online_completion, homework)

    @staticmethod
    def terms_of(rules: PointsRules | None) -> PointsTerms:
        return STARTING_TERMS if rules is None else rules.terms


class TrainingBatch(Aggregate):
    """A batch of teacher training: places per school, attendance per day, certificates."""

    @event("Scheduled")
    def __init__(
        self,
        title: str,
        audience: str,
        starts_on: str,
        days: int,
        capacity: int,
        quotas: dict[str, int],
    ) -> None:
        # Days travel as ISO strings: the stored events' transcoder knows no dates.
        self.title = title
        self.audience = audience
        self.starts_on = date.fromisoformat(starts_on)
        self.days = days
        self.capacity = capacity
        self.quotas = dict(quotas)
        # teacher id -> school id, in the order enrolled
        self.teachers: dict[str, str] = {}
        # iso day -> teacher ids present
        self.present: dict[str, list[str]] = {}
        self.certificates: list[dict[str, str]] = []
        self.completed_on: date | None = None

    @classmethod
    def schedule(
        cls, *, title: str, audience: str, starts_on: date, capacity: int,
        quotas: dict[str, int], known_schools: Collection[str], today: date,
    ) -> TrainingBatch:  # fmt: skip
        if starts_on < today:
            raise InvalidTimeError("a training batch cannot start in the past")
        low, high = BATCH_SIZES[audience]
        if not low <= capacity <= high:
            raise DomainError(f"a {audience} batch has {low} to {high} places, not {capacity}")
        unknown = sorted(set(quotas) - set(known_schools))
        if unknown:
            raise UnknownSchoolError(f"schools not in the city's list: {', '.join(unknown)}")
        if sum(quotas.values()) > capacity:
            raise OverQuotaError(
                f"the schools' quotas add up to {sum(quotas.values())}, over {capacity} places"
            )
        return cls(
            title=title,
            audience=audience,
            starts_on=starts_on.isoformat(),
            days=TRAINING_DAYS[audience],
            capacity=capacity,
            quotas=dict(sorted(quotas.items())),
        )

    @property
    def ends_on(self) -> date:
        return self.starts_on + timedelta(days=self.days - 1)

    def enrolled_from(self, school_id: str) -> int:
        return sum(1 for school in self.teachers.values() if school == school_id)

    def enrol(self, school_id: str, teacher_ids: list[str], today: date) -> None:
        self._refuse_if_completed()
        if today >= self.starts_on:
            raise TrainingClosedError("enrolment closes when the batch starts")
        quota = self.quotas.get(school_id)
        if quota is None:
            raise OverQuotaError(f"{school_id} has no places in this batch")
        again = sorted(t for t in teacher_ids if t in self.teachers)
        if again or len(set(teacher_ids)) != len(teacher_ids):
            raise ConflictError(f"already enrolled: {', '.join(again) or 'listed twice'}")
        after = self.enrolled_from(school_id) + len(teacher_ids)
        if after > quota:
            raise OverQuotaError(f"{school_id} has {quota} places; this would make {after}")
        self._enrolled(
            school_id=school_id,
            teacher_ids=list(teacher_ids),
            school_enrolled=after,
            enrolled=len(self.teachers) + len(teacher_ids),
        )

    @event("Enrolled")
    def _enrolled(
        self, school_id: str, teacher_ids: list[str], school_enrolled: int, enrolled: int
    ) -> None:
        for teacher_id in teacher_ids:
            self.teachers[teacher_id] = school_id

    def record_attendance(self, day: date, teacher_ids: list[str], today: date) -> bool:
        """Mark teachers present on a day of training; False when all were already marked."""
        self._refuse_if_completed()
        if not self.starts_on <= day <= self.ends_on:
            raise InvalidTimeError(
                f"the batch trains from {self.starts_on} to {self.ends_on}, not on {day}"
            )
        if day > today:
            raise InvalidTimeError("attendance cannot be recorded ahead of the day")
        strangers = sorted(t for t in teacher_ids if t not in self.teachers)
        if strangers:
            raise NotEnrolledError(f"not enrolled in this batch: {', '.join(strangers)}")
        marked = set(self.present.get(day.isoformat(), ()))
        new = [t for t in dict.fromkeys(teacher_ids) if t not in marked]
        if not new:
            return False
        self._attended(day=day.isoformat(), teacher_ids=new)
        return True

    @event("AttendanceRecorded")
    def _attended(self, day: str, teacher_ids: list[str]) -> None:
        self.present.setdefault(day, []).extend(teacher_ids)

    def complete(self, today: date, district_of: dict[str, str]) -> list[str]:
        """Close the batch; certificates for the teachers present every day (their ids)."""
        self._refuse_if_completed()
        if today < self.ends_on:
            raise InvalidTimeError(f"the batch is completed after its last day, {self.ends_on}")
        days = [(self.starts_on + timedelta(days=n)).isoformat() for n in range(self.days)]
        present = [set(self.present.get(day, ())) for day in days]
        trained = [t for t in self.teachers if all(t in p for p in present)]
        prefix = str(self.id)[:8].upper()
        for n, teacher_id in enumerate(trained, start=1):
            school_id = self.teachers[teacher_id]
            self._certified(
                certificate_no=f"TT-{prefix}-{n:03d}",
                teacher_id=teacher_id,
                school_id=school_id,
                district=district_of.get(school_id, ""),
                audience=self.audience,
                issued_on=today.isoformat(),
            )
        self._completed(
            enrolled=len(self.teachers), certified=len(trained), completed_on=today.isoformat()
        )
        return trained

    @event("CertificateIssued")
    def _certified(
        self, certificate_no: str, teacher_id: str, school_id: str, district: str,
        audience: str, issued_on: str,
    ) -> None:  # fmt: skip
        self.certificates.append(
            {
                "certificate_no": certificate_no,
                "teacher_id": teacher_id,
                "school_id": school_id,
                "issued_on": issued_on,
            }
        )

    @event("Completed")
    def _completed(self, enrolled: int, certified: int, completed_on: str) -> None:
        self.completed_on = date.fromisoformat(completed_on)

    def _refuse_if_completed(self) -> None:
        if self.completed_on is not None:
            raise TrainingClosedError("the batch was completed")


def lecture_quota_id(term: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"tongxin:courses:lecture-quota:{term}")


class LectureQuota(Aggregate):
    """A term's lecture quota: each school listed holds at least `min_lectures` lectures."""

    @event("Set")
    def __init__(
        self, id: UUID, term: str, starts_on: str, ends_on: str, min_lectures: int,
        schools: list[str],
    ) -> None:  # fmt: skip
        self._take(term, starts_on, ends_on, min_lectures, schools)

    def _take(
        self, term: str, starts_on: str, ends_on: str, min_lectures: int, schools: list[str]
    ) -> None:
        self.term = term
        self.starts_on = starts_on
        self.ends_on = ends_on
        self.min_lectures = min_lectures
        self.schools = list(schools)

    @classmethod
    def start(cls, term: Term, min_lectures: int, schools: list[str]) -> LectureQuota:
        return cls(
            id=lecture_quota_id(term.label),
            term=term.label,
            starts_on=term.starts_on.isoformat(),
            ends_on=term.ends_on.isoformat(),
            min_lectures=min_lectures,
            schools=sorted(schools),
        )

    def change(self, min_lectures: int, schools: list[str]) -> bool:
        """False (and no event) when nothing changes."""
        if min_lectures == self.min_lectures and sorted(schools) == self.schools:
            return False
        self._changed(
            term=self.term,
            starts_on=self.starts_on,
            ends_on=self.ends_on,
            min_lectures=min_lectures,
            schools=sorted(schools),
        )
        return True

    @event("Changed")
    def _changed(
        self, term: str, starts_on: str, ends_on: str, min_lectures: int, schools: list[str]
    ) -> None:
        self._take(term, starts_on, ends_on, min_lectures, schools)
