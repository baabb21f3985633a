"""Who may do what in the feeds service.

Prop (the Propaganda Dept. & Media Centre) owns it: its admins and coordinators decide
what each partner may receive (agreements) and watch every partner's deliveries. A
partner acts with its own credential (role `partner`, `sub` = its id) and only on its
own endpoints and feed (`authorize_partner`).
"""

from __future__ import annotations

from services.kit.auth import Principal
from services.kit.errors import ForbiddenError
from services.kit.policy import Policy, Rule

PROP_STAFF = ("admin", "coordinator")

POLICY = Policy(
    service="feeds",
    rules={
        "set-agreement": Rule(staff=PROP_STAFF, owner_only=True),
        "manage-partners": Rule(staff=PROP_STAFF, owner_only=True),
        "read-partners": Rule(staff=PROP_STAFF, owner_only=True),
        "read-agreement": Rule(staff=PROP_STAFF, open_to=("partner",)),
        "manage-endpoints": Rule(open_to=("partner",)),
        "read-endpoints": Rule(staff=PROP_STAFF, open_to=("partner",)),
        "read-feed": Rule(open_to=("partner",)),
    },
)


def authorize_partner(caller: Principal, action: str, partner_id: str) -> None:
    """The policy's rule, and a partner acts only for itself."""
    POLICY.authorize(caller, action)
    if caller.role == "partner" and caller.subject != partner_id:
        raise ForbiddenError("a partner reads and manages only its own subscriptions")
