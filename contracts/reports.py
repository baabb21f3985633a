"""Reports the departments' own systems publish into their own boundaries (through the
ingest, or straight onto NATS with the department's credential).

Each is what the department did for the alliance's key tasks (a lecture given, a visit
made, a grant paid), with ids, codes and numbers only: who attended stays with the
department. Each is measurable (`contracts.measures`), so the alliance's targets count it.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from contracts.events import ContractEvent, classified
from contracts.measures import measurable

Audience = Literal["families", "students", "teachers", "community"]


def _report_id() -> str:
    return classified(
        "id", "The report's id in the department's system.", min_length=1, max_length=100
    )


def _school(required: bool = True) -> Any:
    kwargs: dict[str, Any] = {} if required else {"default": None}
    return classified(
        "code",
        "The school it was for (school code).",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:-]+$",
        **kwargs,
    )


def _district() -> str:
    return classified(
        "code",
        "The district or county-level unit (its GB/T 2260 code, contracts/city.json).",
        min_length=1,
        max_length=64,
        pattern=r"^[a-z0-9-]+$",
    )


def _held_on() -> date:
    return classified("time", "The day it took place.")


@measurable(at="held_on", school="school_id", district="district_id", facets=("audience",))
class LegalLectureGiven(ContractEvent):
    """The Justice Bureau gave a legal-education lecture at a school."""

    boundary = "legal"
    event_name = "legal-lecture-given"
    report_id: str = _report_id()
    school_id: str = _school()
    district_id: str = _district()
    held_on: date = _held_on()
    audience: Audience = classified("code", "Who the lecture was for.")
    attendance: int = classified("fact", "How many attended.", ge=0, le=100_000)


@measurable(at="visited_on", school="school_id", district="district_id", subject="school_id")
class VicePrincipalVisited(ContractEvent):
    """A science vice-principal (科技副校长) of the Science Association visited a school."""

    boundary = "science"
    event_name = "vice-principal-visited"
    report_id: str = _report_id()
    school_id: str = _school()
    district_id: str = _district()
    visited_on: date = classified("time", "The day of the visit.")


@measurable(
    at="held_on", district="district_id", unit="community_id", quantity="families", facets=("kind",)
)
class GuidanceSessionHeld(ContractEvent):
    """The Women's Federation held a family-education guidance session in a community."""

    boundary = "guidance"
    event_name = "guidance-session-held"
    report_id: str = _report_id()
    community_id: str = classified("code", "The community (社区) it was held in.", max_length=64)
    district_id: str = _district()
    held_on: date = _held_on()
    kind: Literal["community-parent-school", "consultation", "home-guidance"] = classified(
        "code", "What kind of session."
    )
    families: int = classified("fact", "How many families took part.", ge=0, le=100_000)


@measurable(
    at="granted_on",
    school="school_id",
    district="district_id",
    quantity="amount_yuan",
    facets=("purpose",),
)
class FundGrantMade(ContractEvent):
    """The Finance Bureau paid a grant from the alliance fund."""

    boundary = "fund"
    event_name = "fund-grant-made"
    report_id: str = _report_id()
    school_id: str | None = _school(required=False)
    district_id: str = _district()
    granted_on: date = classified("time", "The day the grant was paid.")
    purpose: Literal["parent-school", "activity-subsidy", "venue", "training"] = classified(
        "code", "What the grant is for."
    )
    amount_yuan: float = classified("fact", "The amount, in yuan.", gt=0, le=100_000_000)


@measurable(at="held_on", school="school_id", district="district_id", facets=("kind",))
class SafetyDrillSupervised(ContractEvent):
    """Public security supervised a school's safety drill (twice a term is the target)."""

    boundary = "checks"
    event_name = "safety-drill-supervised"
    report_id: str = _report_id()
    school_id: str = _school()
    district_id: str = _district()
    held_on: date = _held_on()
    kind: Literal["fire", "earthquake", "intruder", "evacuation"] = classified(
        "code", "What the drill practised."
    )


@measurable(at="reviewed_on", district="district_id", unit="community_id", quantity="children")
class RegisterReviewed(ContractEvent):
    """Civil Affairs reviewed a community's register of orphans and left-behind children."""

    boundary = "registry"
    event_name = "register-reviewed"
    report_id: str = _report_id()
    community_id: str = classified("code", "The community whose register was reviewed.")
    district_id: str = _district()
    reviewed_on: date = classified("time", "The day the review was completed.")
    children: int = classified("fact", "Children on the register after the review.", ge=0)


@measurable(at="held_on", school="school_id", district="district_id", facets=("topic",))
class HealthTalkGiven(ContractEvent):
    """A health vice-principal of the Health Commission gave a talk at a school."""

    boundary = "screening"
    event_name = "health-talk-given"
    report_id: str = _report_id()
    school_id: str = _school()
    district_id: str = _district()
    held_on: date = _held_on()
    topic: Literal["mental-health", "nutrition", "eyesight", "first-aid"] = classified(
        "code", "The talk's topic."
    )


@measurable(at="held_on", school="school_id", district="district_id")
class ProtectionLectureGiven(ContractEvent):
    """The Procuratorate gave a protection-of-minors lecture at a school (检察官进校园)."""

    boundary = "protection"
    event_name = "protection-lecture-given"
    report_id: str = _report_id()
    school_id: str = _school()
    district_id: str = _district()
    held_on: date = _held_on()


@measurable(
    at="held_on",
    school="school_id",
    district="district_id",
    unit="team_id",
    quantity="elders",
)
class EldersActivityHeld(ContractEvent):
    """A five-elders team of the Committee for the Care of the Next Generation held an
    activity with children."""

    boundary = "elders"
    event_name = "elders-activity-held"
    report_id: str = _report_id()
    team_id: str = classified("code", "The five-elders team.", min_length=1, max_length=64)
    school_id: str | None = _school(required=False)
    district_id: str = _district()
    held_on: date = _held_on()
    elders: int = classified("fact", "How many elders took part.", ge=1, le=1000)


REPORTS: tuple[type[ContractEvent], ...] = (
    LegalLectureGiven,
    VicePrincipalVisited,
    GuidanceSessionHeld,
    FundGrantMade,
    SafetyDrillSupervised,
    RegisterReviewed,
    HealthTalkGiven,
    ProtectionLectureGiven,
    EldersActivityHeld,
)
