"""GraphQL types of the committees feature, read from the read model's rows."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from gateway.committees import state
from gateway.committees.readmodel import (
    ActionItemRow,
    ActionRate,
    CommitteeRow,
    Coverage,
    Figures,
    MemberRow,
    Rate,
    SuggestionRow,
)
from gateway.core import personal


@strawberry.type(description="A member sitting on a committee.")
class Member:
    member_id: str = strawberry.field(description="The member's id.")
    role: str = strawberry.field(description="chair, vice-chair or member.")
    grandparent: bool = strawberry.field(description="A grandparent (village committees).")

    @strawberry.field(
        description="The member's name, from the committees service as the caller: the "
        "Education Bureau's staff of the member's schools read it (each read in its access "
        "log); null for anyone else, or when erased."
    )
    async def name(self, info: strawberry.Info) -> str | None:
        found = await personal.resolve(info, state.NAMES, self.member_id)
        shown = personal.shown(found)
        return None if shown is None else str(shown)

    @classmethod
    def from_row(cls, row: MemberRow) -> Member:
        return cls(member_id=row.member_id, role=row.role, grandparent=row.grandparent)


@strawberry.type(description="A parent committee.")
class Committee:
    id: strawberry.ID = strawberry.field(description="Committee id.")
    level: str = strawberry.field(
        description="city, district, school, grade, class, community or village."
    )
    scope_id: str = strawberry.field(description="The school, district, community or village.")
    school_id: str | None = strawberry.field(description="Its school (school, grade, class).")
    district: str = strawberry.field(description="District or county.")
    title: str = strawberry.field(description="Public name.")
    grandparents: bool = strawberry.field(description="A grandparent committee (祖辈家委会).")
    term_ends_on: str = strawberry.field(description="Last day of the term.")
    members: list[Member] = strawberry.field(description="Sitting now, chair first.")
    meetings: int = strawberry.field(description="Meetings scheduled.")
    meetings_held: int = strawberry.field(description="Meetings held.")
    resolutions: int = strawberry.field(description="Resolutions adopted in them.")

    @classmethod
    def from_row(cls, row: CommitteeRow) -> Committee:
        return cls(
            id=strawberry.ID(row.id),
            level=row.level,
            scope_id=row.scope_id,
            school_id=row.school_id,
            district=row.district,
            title=row.title,
            grandparents=row.grandparents,
            term_ends_on=row.term_ends_on,
            members=[Member.from_row(m) for m in row.members],
            meetings=row.meetings,
            meetings_held=row.meetings_held,
            resolutions=row.resolutions,
        )


@strawberry.type(description="A suggestion's way to an answer (its text stays with the service).")
class Suggestion:
    id: strawberry.ID = strawberry.field(description="Suggestion id.")
    committee_id: str = strawberry.field(description="The submitting committee.")
    school_id: str | None = strawberry.field(description="The committee's school, if any.")
    district: str = strawberry.field(description="The committee's district.")
    topic: str = strawberry.field(description="Topic code.")
    anonymous: bool = strawberry.field(description="The submitter is hidden from the school.")
    received_on: str = strawberry.field(description="The day it was received.")
    submitted_at: datetime = strawberry.field(description="When it was entered.")
    status: str = strawberry.field(description="assigned, answered or closed.")
    level: str = strawberry.field(description="Who owes the answer: school, district or city.")
    department: str | None = strawberry.field(description="The department responsible, if not edu.")
    due_at: datetime | None = strawberry.field(description="When the answer is due now.")
    escalations: int = strawberry.field(description="Deadlines passed unanswered.")
    overdue: bool = strawberry.field(description="Unanswered past its deadline.")
    answered_at: datetime | None = strawberry.field(description="When it was answered.")
    on_time: bool | None = strawberry.field(description="Answered before its first deadline.")
    rating: int | None = strawberry.field(description="The submitter's satisfaction, 1 to 5.")

    @classmethod
    def from_row(cls, row: SuggestionRow) -> Suggestion:
        return cls(
            id=strawberry.ID(row.id),
            committee_id=row.committee_id,
            school_id=row.school_id,
            district=row.district,
            topic=row.topic,
            anonymous=row.anonymous,
            received_on=row.received_on,
            submitted_at=row.submitted_at,
            status=row.status,
            level=row.level,
            department=row.department,
            due_at=row.due_at,
            escalations=row.escalations,
            overdue=row.status == "assigned"
            and row.due_at is not None
            and row.due_at < datetime.now(UTC),
            answered_at=row.answered_at,
            on_time=row.on_time,
            rating=row.rating,
        )


@strawberry.type(description="A joint meeting's resolution as work for departments.")
class ActionItem:
    id: strawberry.ID = strawberry.field(description="Action item id.")
    joint_meeting_id: str = strawberry.field(description="The joint meeting that adopted it.")
    convened_by: str = strawberry.field(description="city or district.")
    district: str | None = strawberry.field(description="The convening district, if one.")
    title: str = strawberry.field(description="The resolution, as adopted.")
    lead: str = strawberry.field(description="The lead department.")
    supporters: list[str] = strawberry.field(description="Supporting departments.")
    due_at: datetime = strawberry.field(description="When it is due.")
    percent: int = strawberry.field(description="How far the work is, 0 to 100.")
    done: bool = strawberry.field(description="The lead reported it done.")
    completed_at: datetime | None = strawberry.field(description="When it was done.")
    on_time: bool | None = strawberry.field(description="Done by its due time.")
    overdue: bool = strawberry.field(description="Open past its due time now.")
    escalated: bool = strawberry.field(description="Escalated above the convenor (once).")

    @classmethod
    def from_row(cls, row: ActionItemRow) -> ActionItem:
        return cls(
            id=strawberry.ID(row.id),
            joint_meeting_id=row.joint_meeting_id,
            convened_by=row.convened_by,
            district=row.district,
            title=row.title,
            lead=row.lead,
            supporters=list(row.supporters),
            due_at=row.due_at,
            percent=row.percent,
            done=row.done,
            completed_at=row.completed_at,
            on_time=row.on_time,
            overdue=not row.done and row.due_at < datetime.now(UTC),
            escalated=row.escalated,
        )


@strawberry.type(description="A lead department's action items and how they went.")
class ActionItemRate:
    department: str = strawberry.field(description="The lead department.")
    assigned: int = strawberry.field(description="Action items it leads.")
    done: int = strawberry.field(description="Done.")
    on_time: int = strawberry.field(description="Done by their due time.")
    escalated: int = strawberry.field(description="Escalated (not done by their due time).")
    on_time_rate: float | None = strawberry.field(description="on_time / done.")

    @classmethod
    def from_rate(cls, rate: ActionRate) -> ActionItemRate:
        return cls(
            department=rate.department,
            assigned=rate.assigned,
            done=rate.done,
            on_time=rate.on_time,
            escalated=rate.escalated,
            on_time_rate=rate.on_time / rate.done if rate.done else None,
        )


@strawberry.type(description="A count under a key.")
class CommitteeCount:
    key: str = strawberry.field(description="What is counted.")
    count: int = strawberry.field(description="How many.")


@strawberry.type(description="Answers on time, under a school or a department.")
class OnTimeRate:
    key: str = strawberry.field(description="School id, or department code (edu: the schools).")
    answered: int = strawberry.field(description="Answered.")
    on_time: int = strawberry.field(description="Answered on time.")
    rate: float = strawberry.field(description="on_time / answered.")

    @classmethod
    def from_rate(cls, rate: Rate) -> OnTimeRate:
        return cls(
            key=rate.key,
            answered=rate.answered,
            on_time=rate.on_time,
            rate=rate.on_time / rate.answered if rate.answered else 0.0,
        )


@strawberry.type(description="Committee coverage of the city's schools and classes.")
class CommitteeCoverage:
    schools: int = strawberry.field(description="Schools in the city's list (contracts/city.json).")
    schools_with_committee: int = strawberry.field(description="Of them, with a school committee.")
    school_share: float | None = strawberry.field(description="schoolsWithCommittee / schools.")
    classes: int = strawberry.field(description="Classes of those schools.")
    classes_with_committee: int = strawberry.field(description="Of them, with a class committee.")
    class_share: float | None = strawberry.field(description="classesWithCommittee / classes.")

    @classmethod
    def from_coverage(cls, c: Coverage) -> CommitteeCoverage:
        return cls(
            schools=c.schools,
            schools_with_committee=c.schools_covered,
            school_share=c.schools_covered / c.schools if c.schools else None,
            classes=c.classes,
            classes_with_committee=c.classes_covered,
            class_share=c.classes_covered / c.classes if c.classes else None,
        )


@strawberry.type(description="What the city wants to know about suggestions and committees.")
class CommitteeFigures:
    suggestions_by_status: list[CommitteeCount] = strawberry.field(description="By status.")
    escalated: int = strawberry.field(description="Suggestions that escalated at least once.")
    overdue: int = strawberry.field(description="Unanswered past their deadline now.")
    answered: int = strawberry.field(description="Suggestions answered.")
    median_days_to_answer: float | None = strawberry.field(
        description="From the day received to the answer (calendar days)."
    )
    p90_days_to_answer: float | None = strawberry.field(
        description="90th percentile of the days to answer."
    )
    on_time_by_school: list[OnTimeRate] = strawberry.field(description="Per school.")
    on_time_by_department: list[OnTimeRate] = strawberry.field(
        description="Per department (edu: the schools)."
    )
    closed: int = strawberry.field(description="Suggestions closed with a rating.")
    satisfied_share: float | None = strawberry.field(
        description="Share of closed suggestions rated 4 or 5."
    )
    committees_by_level: list[CommitteeCount] = strawberry.field(
        description="Committees per level."
    )
    schools_with_committee: int = strawberry.field(description="Schools with a school committee.")
    villages_with_grandparent_committee: int = strawberry.field(
        description="Villages with a grandparent committee."
    )
    action_items_by_department: list[ActionItemRate] = strawberry.field(
        description="Joint meetings' action items on time, per lead department."
    )
    coverage: CommitteeCoverage = strawberry.field(
        description="Schools and classes of the city (or of the district asked for, by its "
        "GB/T 2260 code) with a committee."
    )

    @classmethod
    def from_figures(cls, f: Figures) -> CommitteeFigures:
        return cls(
            suggestions_by_status=[
                CommitteeCount(key=k, count=v) for k, v in sorted(f.by_status.items())
            ],
            escalated=f.escalated,
            overdue=f.overdue,
            answered=f.answered,
            median_days_to_answer=f.median_days_to_answer,
            p90_days_to_answer=f.p90_days_to_answer,
            on_time_by_school=[OnTimeRate.from_rate(r) for r in f.on_time_by_school],
            on_time_by_department=[OnTimeRate.from_rate(r) for r in f.on_time_by_department],
            closed=f.closed,
            satisfied_share=f.satisfied / f.closed if f.closed else None,
            committees_by_level=[
                CommitteeCount(key=k, count=v) for k, v in sorted(f.committees_by_level.items())
            ],
            schools_with_committee=f.schools_with_committee,
            villages_with_grandparent_committee=f.villages_with_grandparent_committee,
            action_items_by_department=[
                ActionItemRate.from_rate(r) for r in f.action_items_by_department
            ],
            coverage=CommitteeCoverage.from_coverage(f.coverage),
        )
