"""CoursesApplication: one method per command, each deciding on fresh state."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Tracking

from contracts.city import load_city
from contracts.courses import Term
from contracts.guidance import CommunityParentSchoolInspected
from services.courses.domain import (
    POINTS_RULES_ID,
    Course,
    LectureQuota,
    NotCommunityParentSchoolError,
    Parent,
    ParentSchool,
    PointsRules,
    Session,
    TrainingBatch,
    UnknownSchoolError,
    lecture_quota_id,
)
from services.kit.application import CommandKey, Decision, ServiceApplication
from services.kit.citytime import city_day
from services.kit.commands import check_version
from services.kit.errors import DomainError, NotFoundError, StaleVersionError
from services.kit.privacy.datakeys import ERASED, Decrypted, PersonErasedError, is_token
from services.kit.privacy.personal import PersonalData, PersonErasedProblem

log = logging.getLogger(__name__)

NAME_FIELD = "name"
WF = "wf"
# Registrations for one session are decided one at a time in this process (see `_serial`).
SESSION_LOCK_STRIPES = 256


def _city_schools() -> set[str]:
    return {school.id for school in load_city().schools}


class CoursesApplication(ServiceApplication):
    name = "courses"
    # Set by the runtime (services.kit.runtime.ServiceParts): names are encrypted with it,
    # and reads are logged in it.
    personal: PersonalData | None = None
    # The clock rules are decided by: the kit's (the wall clock, or the one a test or the
    # demo moves through TONGXIN_CLOCK_FILE); unit tests set their own.
    clock: Callable[[], datetime]

    def __init__(self, env: Any = None) -> None:
        super().__init__(env)
        self.clock = self.deadline_clock.now
        self._session_locks = [threading.Lock() for _ in range(SESSION_LOCK_STRIPES)]

    @property
    def privacy(self) -> PersonalData:
        if self.personal is None:
            raise RuntimeError("the courses application needs its PersonalData (personal)")
        return self.personal

    def _today(self) -> date:
        # Training days, evidence and inspection dates are the city's calendar days.
        return city_day(self.clock())

    # Queries.
    def parent_school(self, parent_school_id: UUID) -> ParentSchool:
        return self.get(parent_school_id, ParentSchool)

    def course(self, course_id: UUID) -> Course:
        return self.get(course_id, Course)

    def session(self, session_id: UUID) -> Session:
        return self.get(session_id, Session)

    def parent(self, parent_id: UUID) -> Parent:
        return self.get(parent_id, Parent)

    def points_rules(self) -> PointsRules | None:
        try:
            return self.get(POINTS_RULES_ID, PointsRules)
        except NotFoundError:
            return None

    def parents(self, parent_ids: Collection[UUID]) -> dict[UUID, Parent]:
        found: dict[UUID, Parent] = {}
        for parent_id in parent_ids:
            try:
                found[parent_id] = self.parent(parent_id)
            except NotFoundError:
                continue
        return found

    def names(self, parents: Iterable[Parent]) -> list[Decrypted]:
        """The names of these parents, in order, their data keys read in one go."""
        parents = list(parents)
        self.privacy.keys.prefetch(p.name_token for p in parents if not p.erased)
        return [self.name_of(p) for p in parents]

    def name_of(self, parent: Parent) -> Decrypted:
        if parent.erased or not is_token(parent.name_token):
            return ERASED
        return self.privacy.keys.decrypt(
            parent.name_token, field=NAME_FIELD, person_id=str(parent.id)
        )

    # Parent schools.
    def register_parent_school(self, key: CommandKey | None, **fields: Any) -> dict[str, Any]:
        def decide() -> Decision:
            school = ParentSchool(registered_at=self.clock(), **fields)
            return [school], self._school_response(school)

        return self.run_command(key, decide)

    def record_evidence(
        self, key: CommandKey | None, parent_school_id: UUID, item: str, document_ref: str,
        dated: date,
    ) -> dict[str, Any]:  # fmt: skip
        def decide() -> Decision:
            school = self.parent_school(parent_school_id)
            school.record_evidence(item, document_ref, dated, self._today())
            return [school], self._school_response(school)

        return self.run_command(key, decide)

    def inspect(
        self, key: CommandKey | None, parent_school_id: UUID, verdicts: dict[str, str],
        inspected_on: date, by_department: str,
    ) -> dict[str, Any]:  # fmt: skip
        def decide() -> Decision:
            school = self.parent_school(parent_school_id)
            inspection_id = f"insp-{uuid4()}"
            school.inspect(
                inspection_id=inspection_id,
                verdicts=verdicts,
                inspected_on=inspected_on,
                by_department=by_department,
                today=self._today(),
            )
            return [school], self._school_response(school) | {"inspection_id": inspection_id}

        return self.run_command(key, decide)

    def _school_response(self, school: ParentSchool) -> dict[str, Any]:
        return {
            "parent_school_id": str(school.id),
            "meets_standard": school.meets_standard_on(self._today()),
            "version": school.version,
        }

    # The course supermarket.
    def publish_course(self, key: CommandKey | None, **fields: Any) -> dict[str, Any]:
        def decide() -> Decision:
            course = Course(published_at=self.clock(), **fields)
            return [course], self._course_response(course)

        return self.run_command(key, decide)

    def revise_course(
        self, key: CommandKey | None, course_id: UUID, expected_version: int | None, **fields: Any
    ) -> dict[str, Any]:
        def decide() -> Decision:
            course = self.course(course_id)
            check_version(course, expected_version)
            course.revise(published_at=self.clock(), **fields)
            return [course], self._course_response(course)

        return self.run_command(key, decide)

    def retire_course(
        self, key: CommandKey | None, course_id: UUID, expected_version: int | None
    ) -> dict[str, Any]:
        def decide() -> Decision:
            course = self.course(course_id)
            check_version(course, expected_version)
            course.retire(self.clock())
            return [course], self._course_response(course)

        return self.run_command(key, decide)

    @staticmethod
    def _course_response(course: Course) -> dict[str, Any]:
        return {
            "course_id": str(course.id),
            "revision": course.revision,
            "retired": course.retired,
            "version": course.version,
        }

    # Sessions.
    def schedule_session(self, key: CommandKey | None, **fields: Any) -> dict[str, Any]:
        def decide() -> Decision:
            course = self.course(UUID(fields["course_id"]))
            course.refuse_if_retired()
            parent_school_id = fields.get("parent_school_id")
            if parent_school_id is not None:
                self.parent_school(UUID(parent_school_id))
            elif fields["mode"] == "in-person":
                raise DomainError("an in-person session is held at a parent school")
            session = Session.schedule(now=self.clock(), **fields)
            return [session], self._session_response(session)

        return self.run_command(key, decide)

    def register(
        self, key: CommandKey | None, session_id: UUID, parent_id: UUID,
        expected_version: int | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        def decide() -> Decision:
            session = self.session(session_id)
            check_version(session, expected_version)
            placed = session.register(self.parent(parent_id), self.clock())
            response = self._session_response(session) | {
                "parent_id": str(parent_id),
                "status": "registered" if placed else "waitlisted",
                "waitlist_position": None if placed else len(session.waitlist),
            }
            return [session], response

        return self._serial(session_id, lambda: self.run_command(key, decide))

    def cancel_registration(
        self, key: CommandKey | None, session_id: UUID, parent_id: UUID,
        expected_version: int | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        def decide() -> Decision:
            session = self.session(session_id)
            check_version(session, expected_version)
            promoted = session.cancel(str(parent_id))
            response = self._session_response(session) | {
                "parent_id": str(parent_id),
                "status": "cancelled",
                "promoted_parent_id": promoted,
            }
            return [session], response

        return self._serial(session_id, lambda: self.run_command(key, decide))

    def attend(
        self, key: CommandKey | None, session_id: UUID, parent_id: UUID, at: datetime | None
    ) -> dict[str, Any]:
        def decide() -> Decision:
            now = self.clock()
            when = at or now
            session = self.session(session_id)
            parent = self.parent(parent_id)
            activity = session.attend(parent, when, now)
            points = parent.award(activity, str(session_id), self.points_rules(), when)
            response = self._session_response(session) | {
                "parent_id": str(parent_id),
                "status": "attended",
                "points": points,
                "parent_points": parent.points,
            }
            return [session, parent], response

        return self._serial(session_id, lambda: self.run_command(key, decide))

    def _serial(self, session_id: UUID, command: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run a command on a session after the others on it in this process.

        A popular lecture takes hundreds of registrations at once; deciding them in turn
        here saves each from losing the version race to its neighbours and retrying.
        Replicas still meet in the store's version check, and `run_command` retries those.
        """
        with self._session_locks[hash(session_id) % SESSION_LOCK_STRIPES]:
            return command()

    @staticmethod
    def _session_response(session: Session) -> dict[str, Any]:
        return {
            "session_id": str(session.id),
            "places_filled": session.places_filled,
            "places_left": session.places_left,
            "waitlisted": len(session.waitlist),
            "version": session.version,
        }

    # Parents and points.
    def enrol_parent(
        self, key: CommandKey | None, *, name: str, school_id: str, class_id: str, district: str,
        ranking_opt_in: bool,
    ) -> dict[str, Any]:  # fmt: skip
        # The id comes first: the name is encrypted with the key of the person it names.
        parent_id = uuid4()
        token = self._encrypt_name(parent_id, name)

        def decide() -> Decision:
            parent = Parent(
                id=parent_id,
                name_token=token,
                school_id=school_id,
                class_id=class_id,
                district=district,
                enrolled_at=self.clock(),
            )
            parent.consent_to_ranking(ranking_opt_in)
            return [parent], self._parent_response(parent)

        return self.run_command(key, decide)

    def consent_to_ranking(
        self, key: CommandKey | None, parent_id: UUID, opted_in: bool
    ) -> dict[str, Any]:
        def decide() -> Decision:
            parent = self.parent(parent_id)
            changed = parent.consent_to_ranking(opted_in)
            return ([parent] if changed else []), self._parent_response(parent)

        return self.run_command(key, decide)

    def submit_homework(
        self, key: CommandKey | None, parent_id: UUID, course_id: UUID
    ) -> dict[str, Any]:
        def decide() -> Decision:
            self.course(course_id)
            parent = self.parent(parent_id)
            points = parent.award("homework", str(course_id), self.points_rules(), self.clock())
            return [parent], self._parent_response(parent) | {"points_earned": points}

        return self.run_command(key, decide)

    def erase_parent(self, key: CommandKey | None, parent_id: UUID) -> dict[str, Any]:
        """Destroy the parent's data key, then record the erasure; points stay as figures."""
        self.parent(parent_id)  # 404 before anything is destroyed
        self.privacy.keys.erase(str(parent_id))

        def decide() -> Decision:
            parent = self.parent(parent_id)
            changed = parent.erase(self.clock())
            return ([parent] if changed else []), self._parent_response(parent)

        return self.run_command(key, decide)

    @staticmethod
    def _parent_response(parent: Parent) -> dict[str, Any]:
        return {
            "parent_id": str(parent.id),
            "points": parent.points,
            "ranking_opt_in": parent.ranking_opt_in,
            "erased": parent.erased,
            "version": parent.version,
        }

    def _encrypt_name(self, parent_id: UUID, name: str) -> str:
        try:
            return self.privacy.keys.encrypt(str(parent_id), NAME_FIELD, name)
        except PersonErasedError:
            raise PersonErasedProblem(
                "this parent's personal data was erased: no new personal data is kept for them"
            ) from None

    def change_points_rules(
        self, key: CommandKey | None, expected_version: int | None, **terms: int
    ) -> dict[str, Any]:
        def decide() -> Decision:
            rules = self.points_rules()
            current = PointsRules.terms_of(rules).version
            if expected_version is not None and expected_version != current:
                raise StaleVersionError(
                    f"expected rules version {expected_version}, but the current one is {current}"
                )
            if rules is None:
                rules = PointsRules.first_change(at=self.clock(), **terms)
            else:
                rules.change(at=self.clock(), **terms)
            return [rules], {"rules_version": rules.terms.version}

        return self.run_command(key, decide)

    # Teacher training.
    def training_batch(self, batch_id: UUID) -> TrainingBatch:
        return self.get(batch_id, TrainingBatch)

    def schedule_training(
        self, key: CommandKey | None, *, title: str, audience: str, starts_on: date,
        capacity: int, quotas: dict[str, int],
    ) -> dict[str, Any]:  # fmt: skip
        def decide() -> Decision:
            batch = TrainingBatch.schedule(
                title=title,
                audience=audience,
                starts_on=starts_on,
                capacity=capacity,
                quotas=quotas,
                known_schools=_city_schools(),
                today=self._today(),
            )
            return [batch], self.batch_summary(batch)

        return self.run_command(key, decide)

    def enrol_teachers(
        self, key: CommandKey | None, batch_id: UUID, school_id: str, teacher_ids: list[str],
        expected_version: int | None,
    ) -> dict[str, Any]:  # fmt: skip
        def decide() -> Decision:
            batch = self.training_batch(batch_id)
            check_version(batch, expected_version)
            batch.enrol(school_id, teacher_ids, self._today())
            return [batch], self.batch_summary(batch) | {
                "school_id": school_id,
                "school_enrolled": batch.enrolled_from(school_id),
                "school_quota": batch.quotas[school_id],
            }

        return self.run_command(key, decide)

    def record_training_attendance(
        self, key: CommandKey | None, batch_id: UUID, day: date, teacher_ids: list[str]
    ) -> dict[str, Any]:
        def decide() -> Decision:
            batch = self.training_batch(batch_id)
            changed = batch.record_attendance(day, teacher_ids, self._today())
            present = len(batch.present.get(day.isoformat(), ()))
            return ([batch] if changed else []), self.batch_summary(batch) | {
                "day": day.isoformat(),
                "present": present,
            }

        return self.run_command(key, decide)

    def complete_training(
        self, key: CommandKey | None, batch_id: UUID, expected_version: int | None
    ) -> dict[str, Any]:
        def decide() -> Decision:
            batch = self.training_batch(batch_id)
            check_version(batch, expected_version)
            districts = {s.id: s.district for s in load_city().schools}
            trained = batch.complete(self._today(), districts)
            return [batch], self.batch_summary(batch) | {"certified": len(trained)}

        return self.run_command(key, decide)

    @staticmethod
    def batch_summary(batch: TrainingBatch) -> dict[str, Any]:
        return {
            "batch_id": str(batch.id),
            "starts_on": batch.starts_on.isoformat(),
            "ends_on": batch.ends_on.isoformat(),
            "enrolled": len(batch.teachers),
            "completed": batch.completed_on is not None,
            "version": batch.version,
        }

    # Lecture quotas per term.
    def lecture_quota(self, term: str) -> LectureQuota | None:
        try:
            return self.get(lecture_quota_id(term), LectureQuota)
        except NotFoundError:
            return None

    def set_lecture_quota(
        self, key: CommandKey | None, term: Term, min_lectures: int, schools: list[str] | None,
        expected_version: int | None,
    ) -> dict[str, Any]:  # fmt: skip
        known = _city_schools()
        held = sorted(known) if schools is None else sorted(set(schools))
        unknown = sorted(set(held) - set(known))
        if unknown:
            raise UnknownSchoolError(f"schools not in the city's list: {', '.join(unknown)}")

        def decide() -> Decision:
            quota = self.lecture_quota(term.label)
            current = quota.version if quota else 0
            if expected_version is not None and expected_version != current:
                raise StaleVersionError(
                    f"expected quota version {expected_version}, but the current one is {current}"
                )
            if quota is None:
                quota = LectureQuota.start(term, min_lectures, held)
                changed = True
            else:
                changed = quota.change(min_lectures, held)
            return ([quota] if changed else []), {
                "term": quota.term,
                "min_lectures": quota.min_lectures,
                "schools": quota.schools,
                "version": quota.version,
            }

        return self.run_command(key, decide)

    # Reactions to other boundaries' events.
    def record_guidance_inspections(
        self, consumer: str, position: int, inspections: Sequence[CommunityParentSchoolInspected]
    ) -> None:
        """Record the Women's Federation's verdicts, with the consumer position, at once.

        An inspection of a school this service does not know, of a parent school that is
        not a community one, or one the rules refuse (an item without evidence) is
        skipped and logged; the position still advances so it is not processed again.
        """
        touched: dict[UUID, ParentSchool] = {}
        for inspection in inspections:
            school_id = UUID(inspection.parent_school_id)
            school = touched.get(school_id)
            try:
                if school is None:
                    school = self.parent_school(school_id)
                if school.level != "community":
                    raise NotCommunityParentSchoolError("not a community parent school")
                verdicts: dict[str, str] = {item: "verified" for item in inspection.verified}
                verdicts |= {item: "rejected" for item in inspection.rejected}
                school.inspect(
                    inspection_id=inspection.inspection_id,
                    verdicts=verdicts,
                    inspected_on=inspection.inspected_on,
                    by_department=WF,
                    today=self._today(),
                )
            except DomainError as exc:
                log.warning(
                    "ignored wf inspection %s of %s: %s",
                    inspection.inspection_id,
                    school_id,
                    exc,
                )
                continue
            touched[school_id] = school
        aggregates: list[Aggregate] = list(touched.values())
        self.save_tracked(Tracking(consumer, position), *aggregates)
