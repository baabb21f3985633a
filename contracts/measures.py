"""What makes a published event measurable by the alliance's targets.

A boundary's contract says, per event type, where the facts a target counts are found:
when it happened, which school / district / unit it belongs to, whose participation it
records (for coverage: distinct subjects), and which number it adds up (hours, a grant's
amount). The alliance service reads only this declaration, never a service's code, so a
service added later becomes measurable by decorating its contract events:

    @measurable(at="held_on", school="school_id", district="district_id", facets=("topic",))
    class LectureGiven(_CoursesEvent): ...

Rules (checked when the class is decorated, so a wrong declaration fails on import):
- `at` names a `time` field (a date or a datetime): the day the fact counts on (a
  datetime counts on the city's day, `contracts.city.city_day`);
- `school`, `district`, `unit` name `code` fields: the groups a target may break down by;
- `subject` names an `id` field: what coverage counts once (a child, a family, a school);
- `quantity` names a numeric `fact` field: what a `sum` or `rate` target adds up;
- `facets` name `code` or `fact` fields a target may filter on (`outcome = passed`).
An event type without the declaration cannot be the object of a target.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from contracts.city import city_day
from contracts.events import ContractEvent, privacy_of

E = TypeVar("E", bound=type[ContractEvent])

GROUP_KEYS = ("school", "district", "unit")
_MEASURE_ATTR = "_tongxin_measure"


class MeasureDeclarationError(TypeError):
    """A measure names a field the event does not have, or one of the wrong class."""


@dataclass(frozen=True)
class Measure:
    """Where an event's countable facts are (field names of the contract event)."""

    at: str
    school: str | None = None
    district: str | None = None
    unit: str | None = None
    subject: str | None = None
    quantity: str | None = None
    facets: tuple[str, ...] = ()

    def fact_of(self, event: ContractEvent) -> Fact:
        """The facts a ledger keeps of one event."""
        values = event.model_dump(mode="python")
        when = values[self.at]
        day = city_day(when) if isinstance(when, datetime) else when
        assert isinstance(day, date)
        facets = {name: _facet(values.get(name)) for name in self.facets}
        quantity = float(values[self.quantity]) if self.quantity else 1.0
        return Fact(
            day=day,
            school=_text(values, self.school),
            district=_text(values, self.district),
            unit=_text(values, self.unit),
            subject=_text(values, self.subject),
            quantity=quantity,
            facets=facets,
        )


@dataclass(frozen=True)
class Fact:
    """One measured event, as the alliance's ledger keeps it: ids, codes and numbers only."""

    day: date
    school: str | None
    district: str | None
    unit: str | None
    subject: str | None
    quantity: float
    facets: dict[str, str]


def measurable(
    *,
    at: str,
    school: str | None = None,
    district: str | None = None,
    unit: str | None = None,
    subject: str | None = None,
    quantity: str | None = None,
    facets: tuple[str, ...] = (),
) -> Any:
    """Declare an event type measurable (see the module docstring)."""
    measure = Measure(at, school, district, unit, subject, quantity, tuple(facets))

    def declare(cls: E) -> E:
        _check(cls, measure)
        setattr(cls, _MEASURE_ATTR, measure)
        return cls

    return declare


def measure_of(cls: type[ContractEvent]) -> Measure | None:
    """The event type's measure, or None when it is not measurable."""
    measure = cls.__dict__.get(_MEASURE_ATTR)
    return measure if isinstance(measure, Measure) else None


def _check(cls: type[ContractEvent], measure: Measure) -> None:
    wanted: list[tuple[str | None, tuple[str, ...]]] = [
        (measure.at, ("time",)),
        (measure.school, ("code",)),
        (measure.district, ("code",)),
        (measure.unit, ("code", "id")),
        (measure.subject, ("id", "code")),
        (measure.quantity, ("fact",)),
        *((facet, ("code", "fact")) for facet in measure.facets),
    ]
    for name, classes in wanted:
        if name is None:
            continue
        info = cls.model_fields.get(name)
        if info is None:
            raise MeasureDeclarationError(f"{cls.__name__} has no field {name!r}")
        if privacy_of(info) not in classes:
            raise MeasureDeclarationError(
                f"{cls.__name__}.{name} is {privacy_of(info)!r}; a measure needs {classes}"
            )


def _text(values: dict[str, Any], field: str | None) -> str | None:
    if field is None or values.get(field) is None:
        return None
    return str(values[field])


def _facet(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
