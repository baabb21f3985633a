"""VolunteersApplication: one method per command, each deciding on fresh state."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Tracking

from contracts.checks import BackgroundCheckCompleted
from services.kit.application import CommandKey, ServiceApplication
from services.kit.commands import check_version
from services.kit.errors import NotFoundError
from services.volunteers.domain import Shift, Volunteer

log = logging.getLogger(__name__)


class VolunteersApplication(ServiceApplication):
    name = "volunteers"

    # Queries.
    def volunteer(self, volunteer_id: UUID) -> Volunteer:
        return self.get(volunteer_id, Volunteer)

    def shift(self, shift_id: UUID) -> Shift:
        return self.get(shift_id, Shift)

    # Commands.
    def register_volunteer(
        self, key: CommandKey | None, *, display_name: str, kind: str, school_id: str | None
    ) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            volunteer = Volunteer(
                display_name=display_name,
                kind=kind,
                school_id=school_id,
                registered_at=datetime.now(UTC),
            )
            return [volunteer], {"volunteer_id": str(volunteer.id), "version": volunteer.version}

        return self.run_command(key, decide)

    def request_background_check(
        self, key: CommandKey | None, volunteer_id: UUID
    ) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            volunteer = self.volunteer(volunteer_id)
            check_id = f"chk-{uuid4()}"
            volunteer.request_background_check(check_id=check_id, requested_at=datetime.now(UTC))
            response = {
                "volunteer_id": str(volunteer_id),
                "check_id": check_id,
                "version": volunteer.version,
            }
            return [volunteer], response

        return self.run_command(key, decide)

    def publish_shift(self, key: CommandKey | None, **fields: Any) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            shift = Shift.publish(**fields)
            return [shift], {"shift_id": str(shift.id), "version": shift.version}

        return self.run_command(key, decide)

    def sign_up(
        self,
        key: CommandKey | None,
        shift_id: UUID,
        volunteer_id: UUID,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            shift = self.shift(shift_id)
            check_version(shift, expected_version)
            shift.sign_up(self.volunteer(volunteer_id))
            return [shift], self._place_response(shift, volunteer_id)

        return self.run_command(key, decide)

    def cancel_sign_up(
        self,
        key: CommandKey | None,
        shift_id: UUID,
        volunteer_id: UUID,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            shift = self.shift(shift_id)
            check_version(shift, expected_version)
            shift.cancel(str(volunteer_id))
            return [shift], self._place_response(shift, volunteer_id)

        return self.run_command(key, decide)

    def check_in(
        self, key: CommandKey | None, shift_id: UUID, volunteer_id: UUID, at: datetime
    ) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            shift = self.shift(shift_id)
            shift.check_in(str(volunteer_id), at)
            return [shift], self._place_response(shift, volunteer_id) | {"at": at.isoformat()}

        return self.run_command(key, decide)

    def check_out(
        self, key: CommandKey | None, shift_id: UUID, volunteer_id: UUID, at: datetime
    ) -> dict[str, Any]:
        def decide() -> tuple[Sequence[Aggregate], dict[str, Any]]:
            shift = self.shift(shift_id)
            volunteer = self.volunteer(volunteer_id)
            hours = shift.check_out(str(volunteer_id), at)
            volunteer.credit_hours(shift_id=str(shift_id), hours=hours)
            response = self._place_response(shift, volunteer_id) | {
                "at": at.isoformat(),
                "hours": hours,
                "volunteer_hours": volunteer.hours,
            }
            return [shift, volunteer], response

        return self.run_command(key, decide)

    # Reactions to other boundaries' events.
    def record_background_checks(
        self, consumer: str, position: int, results: Sequence[BackgroundCheckCompleted]
    ) -> None:
        """Record police results on volunteers, with the consumer position, in one transaction.

        A result for a volunteer this service does not know, or one that does not answer
        the check last requested, is skipped (and logged); the position still advances so
        it is not processed again.
        """
        touched: dict[UUID, Volunteer] = {}
        for result in results:
            volunteer_id = UUID(result.volunteer_id)
            volunteer = touched.get(volunteer_id)
            if volunteer is None:
                try:
                    volunteer = self.volunteer(volunteer_id)
                except NotFoundError:
                    continue
                touched[volunteer_id] = volunteer
            if not volunteer.awaits_result_of(result.check_id):
                log.warning(
                    "ignored police result %s for volunteer %s: not the check requested",
                    result.check_id,
                    volunteer_id,
                )
                continue
            volunteer.record_background_check(
                check_id=result.check_id, outcome=result.outcome, expires_on=result.expires_on
            )
        self.save_tracked(Tracking(consumer, position), *touched.values())

    @staticmethod
    def _place_response(shift: Shift, volunteer_id: UUID) -> dict[str, Any]:
        return {
            "shift_id": str(shift.id),
            "volunteer_id": str(volunteer_id),
            "places_filled": shift.places_filled,
            "places_left": shift.places_left,
            "version": shift.version,
        }
