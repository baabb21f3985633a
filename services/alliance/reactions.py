"""What the alliance does when other boundaries' events arrive: it keeps their measurable
facts in its ledger, once each, and moves the targets they count toward.

One reaction per boundary the manifest lists under the alliance's `reactions`
(contracts/platform.json): measuring a service added later is a line in the manifest and
a `measurable` declaration on its contract events, never a change here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from contracts.city import City, load_city
from contracts.measures import Fact, measure_of
from contracts.platform import load_platform
from services.alliance.application import AllianceApplication
from services.alliance.ledger import Measured
from services.kit.consumer import Delivered
from services.kit.runtime import Reaction


class MeasuredFacts:
    """A boundary's measurable events, into the alliance's ledger (see the module doc)."""

    def __init__(self, app: AllianceApplication, city: City | None = None) -> None:
        self.app = app
        # By school id, looked up once per event on the catch-up path.
        self.districts = {s.id: s.district for s in (city or load_city()).schools}

    def position(self, consumer: str) -> int:
        return self.app.ledger.position(consumer)

    def apply(self, consumer: str, events: Sequence[Delivered]) -> None:
        measured: list[Measured] = []
        for delivered in events:
            envelope = delivered.envelope
            data = envelope.data.upcast()
            measure = measure_of(type(data))
            if measure is None:
                continue
            measured.append(
                Measured(
                    consumer=consumer,
                    seq=delivered.stream_seq,
                    event_key=f"{envelope.source}/{envelope.id}",
                    event_type=type(data).event_type(),
                    department=envelope.department,
                    fact=self._placed(measure.fact_of(data)),
                )
            )
        self.app.measured(consumer, events[-1].stream_seq, measured)

    def _placed(self, fact: Fact) -> Fact:
        """A fact naming a school but no district is counted in the school's district
        (contracts/city.json): services record school ids only."""
        if fact.district is not None or fact.school is None:
            return fact
        district = self.districts.get(fact.school)
        return fact if district is None else dataclasses.replace(fact, district=district)


def consumer_name(subjects: str) -> str:
    """`evt.jus.legal.>` -> `alliance-measures-legal`."""
    return f"alliance-measures-{subjects.split('.')[2]}"


def measured_boundaries() -> tuple[Reaction, ...]:
    """A reaction for each subject the manifest says the alliance measures."""
    return tuple(
        Reaction(name=consumer_name(subjects), subjects=subjects, projection=MeasuredFacts)
        for subjects in load_platform().process("alliance").reactions
    )
