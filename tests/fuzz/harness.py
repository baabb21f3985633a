"""Schemathesis against a served app: generated cases, several callers, a store that must not move.

A `Fuzzer` draws, for every case, an operation's request from the app's own OpenAPI
(valid and invalid data alike), a caller (valid tokens of several roles, no token,
forged, expired or malformed ones) and, sometimes, the id of a resource that exists, so
cases reach the handlers instead of stopping at 404. Each response must not be a 5xx,
must conform to the documented status codes, content types, headers and bodies, and
a refused request (4xx) must leave the service's log of record exactly as it was.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CASES_ENV = "TONGXIN_FUZZ_CASES"
QUICK_CASES = 150
"""Cases per service in `make test`; the opt-in run sets TONGXIN_FUZZ_CASES=1000 or more."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
PROBLEM_JSON = "application/problem+json"


def cases_wanted() -> int:
    return int(os.environ.get(CASES_ENV, QUICK_CASES))


def exploring() -> bool:
    """The opt-in run draws new cases each time; `make test` replays the same ones."""
    return CASES_ENV in os.environ


@dataclass
class Tally:
    """What a run did, printed after it so the figures can be quoted."""

    service: str
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    operations: Counter[str] = field(default_factory=Counter)
    callers: Counter[str] = field(default_factory=Counter)

    def count(self, case: Case, caller: str, status: int) -> None:
        self.cases += 1
        self.statuses[status] += 1
        self.operations[case.operation.label] += 1
        self.callers[caller] += 1

    def summary(self) -> str:
        statuses = " ".join(f"{code}={n}" for code, n in sorted(self.statuses.items()))
        return (
            f"fuzz {self.service}: cases={self.cases} operations={len(self.operations)} "
            f"statuses[{statuses}]"
        )


@dataclass
class Fuzzer:
    """Runs generated cases against `base_url` and checks each response.

    `callers` maps a caller's name to the headers it sends; `intruders` likewise, for
    headers that must not authenticate (no token, forged, expired...).
    `ids` maps a path or body field (e.g. "shift_id") to ids that exist in the store.
    `head` reads the service's log of record (store head, stream sequences); it must not
    change across a refused request.
    """

    service: str
    base_url: str
    schema: schemathesis.BaseSchema
    callers: Mapping[str, Mapping[str, str]]
    intruders: Mapping[str, Mapping[str, str]]
    head: Callable[[], Any]
    ids: Mapping[str, Sequence[str]] = field(default_factory=dict)
    examples: bool = False
    """Also draw the requests the OpenAPI document gives as examples (a third of cases)."""
    sender: Callable[[Case], str | None] | None = None
    """The caller a valid case belongs to (e.g. the department owning an event), if any."""
    tally: Tally = field(init=False)

    def __post_init__(self) -> None:
        self.tally = Tally(self.service)

    def run(self, cases: int) -> Tally:
        generated = [
            self.schema.as_strategy(GenerationMode.POSITIVE),
            self.schema.as_strategy(GenerationMode.NEGATIVE),
        ]
        examples = [
            example
            for result in self.schema.get_all_operations()
            if isinstance(result, Ok)
            for example in result.ok().get_strategies_from_examples()
        ]
        strategy = st.one_of(*generated, *([st.one_of(*examples)] if self.examples else []))

        @settings(
            max_examples=cases,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.generate, Phase.shrink],
            derandomize=not exploring(),
        )
        @given(
            case=strategy,
            caller=st.sampled_from(self._caller_draws()),
            pick=st.randoms(use_true_random=False),
        )
        def one(case: Case, caller: str, pick: random.Random) -> None:
            self._point_at_existing(case, pick)
            self.check(case, self._sent_by_its_owner(case, pick) or caller)

        one()
        return self.tally

    def _caller_draws(self) -> list[str]:
        """Callers with a token are drawn more often: most cases should reach a handler."""
        return sorted(self.callers) * 3 + sorted(self.intruders)

    def check(self, case: Case, caller: str) -> None:
        headers = dict(self.callers.get(caller) or self.intruders[caller])
        if self.schema.is_security_param_negated(case):
            # The case is about a missing or broken Authorization: a token would undo it.
            headers = {}
        before = self.head()
        response = case.call(base_url=self.base_url, headers=headers, timeout=30)
        after = self.head()
        self.tally.count(case, caller, response.status_code)
        case.validate_response(response, checks=CHECKS, headers=headers)
        if response.status_code >= 400:
            (content_type,) = response.headers.get("content-type", [""])
            assert content_type.startswith(PROBLEM_JSON), (
                f"{case.operation.label} -> {response.status_code} is not problem+json: "
                f"{response.text[:300]}"
            )
            problem = response.json()
            assert problem["status"] == response.status_code and problem["code"], problem
            assert after == before, (
                f"{case.operation.label} was refused ({response.status_code}) "
                f"but the log moved from {before} to {after}"
            )

    def _sent_by_its_owner(self, case: Case, pick: random.Random) -> str | None:
        """Half the time, a valid case goes with the caller it belongs to, so acceptance
        is reached as well as refusal."""
        if self.sender is None or not _is_positive(case) or pick.random() < 0.5:
            return None
        owner = self.sender(case)
        return owner if owner in self.callers else None

    def _point_at_existing(self, case: Case, pick: random.Random) -> None:
        """Half the time, name resources that exist, so the handler runs past its 404.

        Only for valid cases: an invalid id swapped for a real one would make an invalid
        case valid, and its acceptance would look like a failure.
        """
        if not self.ids or not _is_positive(case) or pick.random() < 0.5:
            return
        for name, choices in self.ids.items():
            if case.path_parameters and name in case.path_parameters:
                case.path_parameters[name] = pick.choice(choices)
            if isinstance(case.body, dict) and name in case.body:
                case.body[name] = pick.choice(choices)


def _is_positive(case: Case) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_positive
