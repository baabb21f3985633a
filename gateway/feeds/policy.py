"""Who may read the feeds feature through the gateway: prop's admins and coordinators
(the feeds service's owner), who watch every partner's subscriptions."""

from __future__ import annotations

from services.kit.policy import Policy, Rule

READS = Policy(
    service="feeds",
    rules={"read-partner-feeds": Rule(staff=("admin", "coordinator"), owner_only=True)},
)
