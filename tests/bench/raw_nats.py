"""Raw nats-py: JetStream publish_async with Nats-Msg-Id, and pull consume with ack."""

from __future__ import annotations

import asyncio
import time

import nats
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from tests.bench.report import Figure

STREAM = "RAW"
SUBJECT = "raw.bench"
BATCH = 500


async def publish_async(
    url: str, events: int, payload: bytes, msg_ids: str = "raw"
) -> list[Figure]:
    """Events/s of publish_async, each with its own Nats-Msg-Id, acks awaited per batch.

    It leaves the stream filled, for `pull_consume`.
    """
    nc = await nats.connect(url)
    try:
        js = nc.jetstream(timeout=10)
        await js.add_stream(StreamConfig(name=STREAM, subjects=["raw.>"]))
        cpu_started = time.process_time()
        started = time.perf_counter()
        for offset in range(0, events, BATCH):
            futures = [
                await js.publish_async(SUBJECT, payload, headers={"Nats-Msg-Id": f"{msg_ids}-{n}"})
                for n in range(offset, min(offset + BATCH, events))
            ]
            await asyncio.gather(*futures)
        elapsed = time.perf_counter() - started
        cpu_s = time.process_time() - cpu_started
    finally:
        await nc.close()
    return [
        Figure(
            "raw.publish_async",
            "raw nats-py publish_async + Nats-Msg-Id",
            events / elapsed,
            "events/s",
            {"events": events, "payload_bytes": len(payload), "seconds": elapsed},
        ),
        # What publishing costs this process, whatever else the machine runs.
        Figure(
            "raw.publish_async.cpu_us",
            "raw nats-py publish_async + Nats-Msg-Id: CPU per event",
            cpu_s / events * 1e6,
            "us",
            {"events": events, "cpu_seconds": cpu_s},
        ),
    ]


async def pull_consume(url: str, events: int, durable: str = "raw-consumer") -> Figure:
    """Events/s of a durable pull consumer fetching batches of 500 and acking each message."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream(timeout=10)
        subscription = await js.pull_subscribe(
            SUBJECT,
            durable=durable,
            stream=STREAM,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_ack_pending=BATCH * 4),
        )
        received = 0
        started = time.perf_counter()
        while received < events:
            messages = await subscription.fetch(BATCH, timeout=5)
            for msg in messages:
                await msg.ack()
            received += len(messages)
        elapsed = time.perf_counter() - started
    finally:
        await nc.close()
    return Figure(
        "raw.pull_consume",
        "raw nats-py pull consume + ack (batch 500)",
        received / elapsed,
        "events/s",
        {"events": received, "seconds": elapsed},
    )
