"""What the care service does when other boundaries' events arrive.

- Civil affairs' referrals and health's screening results arrive sealed to care: each is
  opened here and kept as an intake for the child's school (`CareApplication.receive_referrals`).
- The volunteers service's background-check results tell care which volunteers may
  mentor a child; care keeps what it learnt, and never asks the volunteers' store.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts.civil_registry import ChildReferredToCare
from contracts.screening import ScreeningResultIssued
from contracts.volunteers import BackgroundCheckRecorded, VolunteerErased
from services.care.application import CareApplication
from services.kit.consumer import Delivered

CIVIL_REFERRALS_CONSUMER = "care-civil-referrals"
SCREENINGS_CONSUMER = "care-screenings"
VOLUNTEER_CHECKS_CONSUMER = "care-volunteer-checks"


class SealedReferrals:
    """Civil-affairs referrals or health screening results, kept as intakes."""

    def __init__(self, app: CareApplication) -> None:
        self.app = app

    def position(self, consumer: str) -> int:
        return self.app.consumer_position(consumer)

    def apply(self, consumer: str, events: Sequence[Delivered]) -> None:
        found = [
            d.envelope.data
            for d in events
            if isinstance(d.envelope.data, ChildReferredToCare | ScreeningResultIssued)
        ]
        self.app.receive_referrals(consumer, events[-1].stream_seq, found)


class VolunteerChecks:
    """Which volunteers hold a passed background check, as the volunteers service says."""

    def __init__(self, app: CareApplication) -> None:
        self.app = app

    def position(self, consumer: str) -> int:
        return self.app.consumer_position(consumer)

    def apply(self, consumer: str, events: Sequence[Delivered]) -> None:
        found = [
            d.envelope.data
            for d in events
            if isinstance(d.envelope.data, BackgroundCheckRecorded | VolunteerErased)
        ]
        self.app.learn_checks(consumer, events[-1].stream_seq, found)
