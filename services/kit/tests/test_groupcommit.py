"""Group commit: concurrent saves share transactions, and a conflict stays with its command."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest
from eventsourcing.persistence import IntegrityError

from services.kit.groupcommit import GroupCommitter


class Log:
    """A store that refuses a transaction holding an already stored key, like a version race."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.rows: list[str] = []
        self.transactions: list[list[str]] = []
        self.delay_s = delay_s
        self._lock = threading.Lock()

    def write(self, events: Sequence[str]) -> list[int]:
        time.sleep(self.delay_s)  # A commit's round trip: lets others queue up meanwhile.
        with self._lock:
            if len(set(events)) < len(events) or set(events) & set(self.rows):
                raise IntegrityError("duplicate")
            first = len(self.rows) + 1
            self.rows += events
            self.transactions.append(list(events))
            return list(range(first, first + len(events)))


def save_all(committer: GroupCommitter, saves: list[list[str]]) -> dict[int, object]:
    outcomes: dict[int, object] = {}
    start = threading.Barrier(len(saves))

    def run(n: int) -> None:
        start.wait()
        try:
            outcomes[n] = list(committer.save(saves[n]))
        except IntegrityError as exc:
            outcomes[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(saves))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return outcomes


def test_concurrent_saves_share_transactions_and_each_gets_its_own_ids() -> None:
    log = Log(delay_s=0.01)
    saves = [[f"c{n}-a", f"c{n}-b"] for n in range(40)]
    outcomes = save_all(GroupCommitter(log.write), saves)

    assert len(log.rows) == 80
    assert len(log.transactions) < 40  # Some commands shared a commit.
    for n, ids in outcomes.items():
        assert isinstance(ids, list)
        assert [log.rows[i - 1] for i in ids] == saves[n]  # Each got the ids of its own events.
    for transaction in log.transactions:  # A command's events are never split.
        for n in range(40):
            assert {f"c{n}-a", f"c{n}-b"} & set(transaction) in (set(), {f"c{n}-a", f"c{n}-b"})


def test_a_conflict_fails_only_the_command_that_lost_the_race() -> None:
    log = Log(delay_s=0.01)
    # Commands 0..19 each write their own key; 20..29 all race for one key.
    saves = [[f"own-{n}"] for n in range(20)] + [["contended", f"x{n}"] for n in range(20, 30)]
    outcomes = save_all(GroupCommitter(log.write), saves)

    assert all(isinstance(outcomes[n], list) for n in range(20))
    winners = [n for n in range(20, 30) if isinstance(outcomes[n], list)]
    losers = [n for n in range(20, 30) if isinstance(outcomes[n], IntegrityError)]
    assert len(winners) == 1
    assert len(losers) == 9
    assert log.rows.count("contended") == 1
    assert f"x{winners[0]}" in log.rows
    assert not {f"x{n}" for n in losers} & set(log.rows)  # A loser wrote nothing at all.


def test_a_store_failure_reaches_every_command_of_the_group() -> None:
    def broken(events: Sequence[str]) -> list[int]:
        raise ConnectionError("database away")

    committer = GroupCommitter(broken)
    with pytest.raises(ConnectionError):
        committer.save(["a"])
    with pytest.raises(ConnectionError):  # And the next save is not stuck behind it.
        committer.save(["b"])
