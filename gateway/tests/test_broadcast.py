"""Changed keys reach each subscriber once per read, oldest first, and a slow one loses only
its oldest keys."""

from __future__ import annotations

import asyncio

from gateway.core.broadcast import Broadcaster, ChangedKeys


async def test_a_key_changed_again_before_it_is_read_is_pending_once() -> None:
    pending = ChangedKeys(limit=10)
    pending.add(["a", "b"])
    pending.add(["a", "c"])
    assert await pending.take() == ("a", "b", "c")
    assert len(pending) == 0


async def test_take_waits_for_a_change_and_then_takes_all_that_came() -> None:
    pending = ChangedKeys(limit=10)
    taking = asyncio.create_task(pending.take())
    await asyncio.sleep(0.01)
    assert not taking.done()
    pending.add(["x"])
    pending.add(["y"])
    assert await asyncio.wait_for(taking, 5) == ("x", "y")
    again = asyncio.create_task(pending.take())
    await asyncio.sleep(0.01)
    assert not again.done()  # Nothing new since: it waits.
    again.cancel()


async def test_a_slow_subscriber_loses_its_oldest_keys_only() -> None:
    pending = ChangedKeys(limit=3)
    pending.add(["a", "b", "c", "d"])
    pending.add(["e"])
    assert await pending.take() == ("c", "d", "e")


async def test_every_subscriber_hears_every_change() -> None:
    broadcaster = Broadcaster(queue_size=5)
    async with broadcaster.subscribe() as first, broadcaster.subscribe() as second:
        broadcaster.publish(["s1", "s2"])
        broadcaster.publish(["s1"])
        assert await first.take() == ("s1", "s2")
        broadcaster.publish(["s3"])
        assert await first.take() == ("s3",)
        assert await second.take() == ("s1", "s2", "s3")
    assert broadcaster.subscribers == 0


async def test_get_takes_the_oldest_key_alone() -> None:
    pending = ChangedKeys(limit=10)
    pending.add(["a", "b"])
    assert await pending.get() == "a"
    assert await pending.take() == ("b",)
