"""A lean keep-alive HTTP/1.1 client for load generation.

The load generator shares the machine's cores with the processes it measures;
httpx costs several times more CPU per request than this, which would show up
as the platform's slowness.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import orjson


class Connection:
    """One keep-alive connection; one request at a time."""

    def __init__(self, url: str, token: str) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.token = token
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        # A server closes a keep-alive connection left idle (uvicorn: after 5 s); its end
        # of file is already read here. A request written to it would fail unanswered, and
        # the failures would fall exactly after a stall, when idle connections pile up.
        if (
            self._reader is None
            or self._writer is None
            or self._writer.is_closing()
            or self._reader.at_eof()
        ):
            self.close()
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    async def post(
        self, path: str, body: object, extra_headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """POST a JSON body; returns the status and the response body."""
        return await self.request("POST", path, orjson.dumps(body), extra_headers)

    async def get(self, path: str) -> tuple[int, bytes]:
        return await self.request("GET", path, b"")

    async def request(
        self, method: str, path: str, payload: bytes, extra_headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            f"Authorization: Bearer {self.token}",
            "Content-Type: application/json",
            f"Content-Length: {len(payload)}",
        ]
        lines += [f"{name}: {value}" for name, value in (extra_headers or {}).items()]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
        reader, writer = await self._open()
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            closing = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                lowered = name.strip().lower()
                if lowered == b"content-length":
                    length = int(value)
                elif lowered == b"connection" and value.strip().lower() == b"close":
                    closing = True
            data = await reader.readexactly(length) if length else b""
        except BaseException:
            self.close()
            raise
        if closing:
            self.close()
        return status, data

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
