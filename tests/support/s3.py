"""A real S3 store for tests: SeaweedFS started exactly as the launcher starts its own (webapp/embedded_store.py:
the same command, ports picked free, admin keys in its environment), in a folder of the test's."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from webapp.embedded_store import EmbeddedStore, free_ports, wait_until_answering


@contextmanager
def seaweedfs(folder: Path, *extra: str) -> Iterator[EmbeddedStore]:
    """``weed mini`` with its data in ``folder``, answering S3 (``.store``, ``.endpoint_url``) until the block
    ends; then stopped and its sockets removed. ``extra``: more of ``weed mini``'s flags. Its output is in
    ``folder/weed.log``."""
    store = EmbeddedStore(folder, "TEST" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30), free_ports())
    with (folder / "weed.log").open("w") as log:
        process = subprocess.Popen([*store.command(), *extra], env=store.environment(dict(os.environ)), stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_answering(store, process)
        yield store
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        store.remove_sockets()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (PEM files in ``folder``), for a store served over HTTPS."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file
