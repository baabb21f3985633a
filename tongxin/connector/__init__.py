"""The department connector: how a department's own system meets the platform's bus.

Built on faststream, typed by the published language (`contracts/`):

    from contracts import checks, volunteers
    from tongxin.connector import DepartmentConnector

    pol = DepartmentConnector.from_env()          # TONGXIN_DEPARTMENT=pol + NATS settings
    completed = pol.publisher(checks.BackgroundCheckCompleted)

    @pol.subscriber(volunteers.BackgroundCheckRequested)
    async def answer(request: volunteers.BackgroundCheckRequested) -> None:
        await completed.publish(checks.BackgroundCheckCompleted(...), event_id=request.check_id)

    app = pol.app                                  # faststream run / docs gen module:app

See `tongxin/connector/connector.py` for the defaults and README "Department systems".
"""

from tongxin.connector.connector import (
    AnswerLater,
    ConnectorSettings,
    DepartmentConnector,
    NotOwnedError,
    Publisher,
    RetiredVersionError,
)

__all__ = [
    "AnswerLater",
    "ConnectorSettings",
    "DepartmentConnector",
    "NotOwnedError",
    "Publisher",
    "RetiredVersionError",
]
