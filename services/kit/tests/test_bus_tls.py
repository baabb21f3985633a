"""TONGXIN_NATS_TLS_CA: services reach a TLS-only nats-server whose certificate chains to it."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.kit import bus
from services.kit.settings import Settings
from tests.support.nats import NatsServer

pytestmark = pytest.mark.nats


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_ca_and_server_cert(folder: Path) -> None:
    """A CA and a server certificate for 127.0.0.1 signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tongxin test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "tls.key").write_bytes(_pem(key))


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[NatsServer, Path]]:
    _write_ca_and_server_cert(tmp_path)
    config = (
        f'tls {{\n  cert_file: "{tmp_path / "tls.crt"}"\n  key_file: "{tmp_path / "tls.key"}"\n}}\n'
    )
    server = NatsServer(tmp_path / "nats", extra_config=config)
    server.start()
    try:
        yield server, tmp_path / "ca.crt"
    finally:
        server.stop()
        server.cleanup()


async def test_connects_over_tls_to_a_server_signed_by_the_configured_ca(
    tls_server: tuple[NatsServer, Path],
) -> None:
    server, ca = tls_server
    settings = Settings(nats_urls=f"tls://127.0.0.1:{server.port}", nats_tls_ca=str(ca))
    nc = await bus.connect(settings, "tls-test")
    try:
        assert nc.is_connected
        assert nc.connected_url is not None and nc.connected_url.scheme == "tls"
        await bus.ensure_stream(nc.jetstream(), "volunteers", settings)
    finally:
        await nc.close()


async def test_refuses_a_server_the_configured_ca_did_not_sign(
    tls_server: tuple[NatsServer, Path], tmp_path: Path
) -> None:
    server, _ = tls_server
    other = tmp_path / "other"
    other.mkdir()
    _write_ca_and_server_cert(other)
    settings = Settings(
        nats_urls=f"tls://127.0.0.1:{server.port}", nats_tls_ca=str(other / "ca.crt")
    )
    # The client keeps retrying the handshake (unlimited reconnects), so a refusal shows as
    # an ssl error or as no connection within the timeout.
    with pytest.raises((ssl.SSLError, TimeoutError, OSError)):
        async with asyncio.timeout(5):
            nc = await bus.connect(settings, "tls-test")
            with contextlib.suppress(Exception):
                await nc.close()
