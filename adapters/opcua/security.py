"""Certificates for OPC UA: the platform's client certificate (generated once in the data
directory unless configured) and the security policy a device asks for."""

from __future__ import annotations

import socket
from pathlib import Path

from cryptography.x509.oid import ExtendedKeyUsageOID

from twinledger.config import OpcUaSettings


async def client_certificate(settings: OpcUaSettings, data_dir: Path) -> tuple[Path, Path]:
    """``(certificate, private_key)``: the configured pair, or one generated in ``data_dir/opcua``."""
    if settings.certificate is not None and settings.private_key is not None:
        return settings.certificate, settings.private_key
    folder = data_dir / "opcua"
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "client-cert.der", folder / "client-key.pem"
    await generate_certificate(cert, key, settings.application_uri, client=True)
    return cert, key


async def generate_certificate(cert: Path, key: Path, app_uri: str, *, client: bool) -> None:
    """A self-signed certificate (DER) and key (PEM) for ``app_uri``, made once and kept."""
    from asyncua.crypto.cert_gen import setup_self_signed_certificate

    use = [ExtendedKeyUsageOID.CLIENT_AUTH] if client else [ExtendedKeyUsageOID.SERVER_AUTH]
    await setup_self_signed_certificate(
        key, cert, app_uri, socket.gethostname(), use, {"commonName": app_uri, "organizationName": "twinledger"}
    )
