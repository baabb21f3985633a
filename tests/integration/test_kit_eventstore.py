"""The kit's event store and `run_command`, on SQLite and on the embedded PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from services.kit.application import CommandKey, RequestDigests
from services.kit.errors import ConflictError, IdempotencyKeyReusedError
from services.kit.settings import Settings
from tests.support.counter import Counter, CounterApp, build_counter_app

pytestmark = pytest.mark.timeout(120)

DIGESTS = RequestDigests(b"a service's own digest secret")


@pytest.fixture(params=["sqlite", "postgres"])
def store_settings(request: pytest.FixtureRequest) -> Settings:
    if request.param == "postgres":
        return request.getfixturevalue("pg_settings")
    return request.getfixturevalue("sqlite_settings")


@pytest.fixture
def app(store_settings: Settings) -> Iterator[CounterApp]:
    application = build_counter_app(store_settings)
    yield application
    application.close()


def head(app: CounterApp) -> int:
    return app.recorder.max_notification_id() or 0


def test_saves_and_reloads(app: CounterApp, store_settings: Settings) -> None:
    counter_id = app.create("visits")
    for _ in range(3):
        app.increment(counter_id, by=2)
    assert app.count(counter_id) == 6

    # A second application object on the same store sees the same history.
    other = build_counter_app(store_settings)
    try:
        reloaded: Counter = other.get(counter_id, Counter)
        assert (reloaded.count, reloaded.version, reloaded.name) == (6, 4, "visits")
    finally:
        other.close()


def test_a_retried_command_returns_the_first_response_and_appends_nothing(
    app: CounterApp,
) -> None:
    counter_id = app.create("visits")
    key = CommandKey.of("user-1", "key-1", "POST /counters/x/increment", b'{"by": 5}', DIGESTS)
    first = app.increment(counter_id, by=5, key=key)
    before = head(app)

    again = app.increment(counter_id, by=5, key=key)

    assert again == first == {"count": 5, "version": 2}
    assert head(app) == before
    assert app.count(counter_id) == 5


def test_an_idempotent_creation_is_not_repeated(app: CounterApp) -> None:
    key = CommandKey.of("user-1", "create-1", "POST /counters", b'{"name": "a"}', DIGESTS)
    first = app.create("a", key=key)
    before = head(app)
    assert app.create("a", key=key) == first
    assert head(app) == before


def test_the_same_key_for_another_request_is_refused(app: CounterApp) -> None:
    counter_id = app.create("visits")
    route = "POST /counters/x/increment"
    app.increment(counter_id, by=1, key=CommandKey.of("user-1", "k", route, b'{"by": 1}', DIGESTS))
    before = head(app)

    with pytest.raises(IdempotencyKeyReusedError):
        app.increment(
            counter_id, by=2, key=CommandKey.of("user-1", "k", route, b'{"by": 2}', DIGESTS)
        )

    assert head(app) == before
    assert app.count(counter_id) == 1
    # The key is scoped to the caller: another principal may use the same key.
    app.increment(counter_id, by=2, key=CommandKey.of("user-2", "k", route, b'{"by": 2}', DIGESTS))
    assert app.count(counter_id) == 3


def hammer(app: CounterApp, counter_id: object, *, client_retries: int) -> tuple[int, list]:
    """8 threads x 20 increments on one counter; returns (successes, errors)."""
    threads, per_thread = 8, 20
    successes: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work() -> None:
        start.wait()
        for _ in range(per_thread):
            for attempt in range(client_retries + 1):
                try:
                    app.increment(counter_id)  # type: ignore[arg-type]
                except ConflictError as exc:
                    if attempt == client_retries:
                        errors.append(exc)
                    continue
                except BaseException as exc:  # noqa: BLE001 - reported by the caller
                    errors.append(exc)
                    return
                successes.append(1)
                break

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=90)
    return len(successes), errors


def test_concurrent_conflicting_commands_lose_no_increment(app: CounterApp) -> None:
    """Every acknowledged increment is kept; a refused one is a 409 the client may retry."""
    counter_id = app.create("busy")
    successes, errors = hammer(app, counter_id, client_retries=20)

    assert not errors, errors
    counter: Counter = app.get(counter_id, Counter)
    assert successes == 160
    assert counter.count == 160
    assert counter.version == 161  # the creation is version 1


def test_run_command_alone_absorbs_8_way_contention(app: CounterApp) -> None:
    counter_id = app.create("busy")
    successes, errors = hammer(app, counter_id, client_retries=0)

    counter: Counter = app.get(counter_id, Counter)
    assert counter.count == successes  # no lost update, whatever else happens
    assert not errors, f"{len(errors)} of 160 commands gave up: {errors[:1]}"
    assert counter.version == 161
