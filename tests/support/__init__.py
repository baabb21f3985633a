"""Shared test support: real infrastructure (nats-server, PostgreSQL) and helpers."""

from tests.support.waiting import eventually, free_port

__all__ = ["eventually", "free_port"]
