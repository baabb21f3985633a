"""Concurrent clients sending commands to the volunteers API the way a real client does.

Every command carries an Idempotency-Key and is retried with that same key on a
connection failure, a timeout or a 5xx, until it is answered or its retry budget is
spent. Each command names what it produces uniquely (a volunteer's display name, a
shift's title, a volunteer/shift pair), so its events can be found and counted later.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

RETRIED_STATUSES = frozenset({408, 425, 429})
KINDS = ("volunteer", "shift", "check", "sign-up", "cancel")
# How often each kind is chosen when it can be (a sign-up needs a volunteer and a shift).
WEIGHTS = (30, 10, 10, 38, 12)
SCHOOLS = ("yz-dongguan-primary", "yz-wenchang-middle", "yz-xinhua-primary", None)


@dataclass(frozen=True)
class Command:
    """One command as sent: what it asks for and the fingerprint of the event it produces."""

    key: str
    kind: str
    path: str
    body: dict[str, Any]
    fingerprint: tuple[str, ...]


@dataclass
class Outcome:
    command: Command
    status: int | None = None
    response: dict[str, Any] | None = None
    attempts: int = 0

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def answered(self) -> bool:
        """A final answer (2xx or a refusal); otherwise the retry budget ran out."""
        return self.status is not None


@dataclass
class LoadConfig:
    commands: int
    clients: int
    rate: float | None  # commands per second offered in total; None: as fast as answered
    seed: int
    run_id: str
    retry_budget_s: float = 120.0
    request_timeout_s: float = 5.0


@dataclass
class ClientState:
    """What one client has seen acknowledged: it builds later commands only on those."""

    volunteers: list[str] = field(default_factory=list)
    checked: set[str] = field(default_factory=set)
    signed_up: list[tuple[str, str]] = field(default_factory=list)
    pairs: set[tuple[str, str]] = field(default_factory=set)


class Load:
    """Runs the clients; `outcomes` holds every command sent, in sending order."""

    def __init__(self, config: LoadConfig, base_url: str, token: str) -> None:
        self.config = config
        self.base_url = base_url
        self.token = token
        self.outcomes: list[Outcome] = []
        self.shifts: list[str] = []  # Shared by every client: sign-ups contend on them.
        self._next = 0
        self._sent = 0
        self._started = 0.0
        self.done = asyncio.Event()

    @property
    def sent(self) -> int:
        return self._sent

    async def run(self) -> None:
        self._started = time.monotonic()
        limits = httpx.Limits(max_connections=self.config.clients * 2)
        async with httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=self.config.request_timeout_s,
            limits=limits,
        ) as http:
            try:
                await asyncio.gather(*(self._client(http, n) for n in range(self.config.clients)))
            finally:
                self.done.set()

    async def _client(self, http: httpx.AsyncClient, index: int) -> None:
        rng = random.Random(f"{self.config.seed}-client-{index}")
        state = ClientState()
        while self._next < self.config.commands:
            number = self._next
            self._next += 1
            if self.config.rate:
                due = self._started + number / self.config.rate
                await asyncio.sleep(max(0.0, due - time.monotonic()))
            command = self._choose(rng, state, index, number)
            self._sent += 1
            outcome = Outcome(command)
            self.outcomes.append(outcome)
            await self._send(http, rng, outcome)
            if outcome.acknowledged:
                self._learn(state, outcome)

    def _choose(self, rng: random.Random, state: ClientState, client: int, number: int) -> Command:
        key = f"{self.config.run_id}-{client}-{number}"
        while True:
            kind = rng.choices(KINDS, WEIGHTS)[0]
            command = self._build(kind, rng, state, key)
            if command is not None:
                return command

    def _build(self, kind: str, rng: random.Random, state: ClientState, key: str) -> Command | None:
        body: dict[str, Any]
        if kind == "volunteer":
            name = f"chaos {key}"
            body = {
                "display_name": name,
                "kind": rng.choice(["parent", "five-elders", "youth", "teacher", "professional"]),
                "school_id": rng.choice(SCHOOLS),
            }
            return Command(key, kind, "/volunteers", body, ("Volunteer.Registered", name))
        if kind == "shift":
            title = f"chaos shift {key}"
            starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=rng.randint(1, 30))
            body = {
                "school_id": rng.choice([s for s in SCHOOLS if s]),
                "post": rng.choice(["safety-post", "library", "after-school", "lecture"]),
                "title": title,
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=rng.choice([1, 2, 3]))).isoformat(),
                "capacity": 500,
                "child_facing": False,
            }
            return Command(key, kind, "/shifts", body, ("Shift.Published", title))
        if kind == "check":
            unchecked = [v for v in state.volunteers if v not in state.checked]
            if not unchecked:
                return None
            volunteer = rng.choice(unchecked)
            state.checked.add(volunteer)  # One request per volunteer, answered or not.
            return Command(
                key,
                kind,
                f"/volunteers/{volunteer}/background-checks",
                {},
                ("Volunteer.BackgroundCheckRequested", volunteer),
            )
        if kind == "sign-up":
            if not state.volunteers or not self.shifts:
                return None
            pair = (rng.choice(self.shifts), rng.choice(state.volunteers))
            if pair in state.pairs:
                return None
            state.pairs.add(pair)  # Each pair is signed up at most once.
            shift, volunteer = pair
            return Command(
                key,
                kind,
                f"/shifts/{shift}/sign-ups",
                {"volunteer_id": volunteer},
                ("Shift.SignedUp", shift, volunteer),
            )
        if not state.signed_up:
            return None
        shift, volunteer = state.signed_up.pop(rng.randrange(len(state.signed_up)))
        return Command(
            key,
            kind,
            f"/shifts/{shift}/cancellations",
            {"volunteer_id": volunteer},
            ("Shift.SignUpCancelled", shift, volunteer),
        )

    def _learn(self, state: ClientState, outcome: Outcome) -> None:
        command, response = outcome.command, outcome.response or {}
        if command.kind == "volunteer":
            state.volunteers.append(str(response["volunteer_id"]))
        elif command.kind == "shift":
            self.shifts.append(str(response["shift_id"]))
        elif command.kind == "sign-up":
            state.signed_up.append((command.fingerprint[1], command.fingerprint[2]))

    async def _send(self, http: httpx.AsyncClient, rng: random.Random, outcome: Outcome) -> None:
        command = outcome.command
        deadline = time.monotonic() + self.config.retry_budget_s
        delay = 0.05
        while True:
            outcome.attempts += 1
            try:
                response = await http.post(
                    command.path, json=command.body, headers={"Idempotency-Key": command.key}
                )
            except httpx.TransportError:
                pass  # Refused, reset or timed out: the command may or may not have run.
            else:
                status = response.status_code
                if status < 500 and status not in RETRIED_STATUSES:
                    outcome.status = status
                    if 200 <= status < 300:
                        outcome.response = response.json()
                    return
            if time.monotonic() + delay > deadline:
                return
            await asyncio.sleep(delay * rng.uniform(0.5, 1.5))
            delay = min(delay * 2, 1.0)


def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    """Counts of what the clients saw."""
    refused = Counter(o.status for o in outcomes if o.answered and not o.acknowledged)
    return {
        "sent": len(outcomes),
        "acknowledged": sum(o.acknowledged for o in outcomes),
        "refused": dict(sorted(refused.items())),
        "unanswered": sum(not o.answered for o in outcomes),
        "retries": sum(o.attempts - 1 for o in outcomes),
        "by_kind": dict(Counter(o.command.kind for o in outcomes if o.acknowledged)),
    }
