"""A real registry for the tests: Debian's docker-registry (CNCF distribution) on loopback.

:func:`start_registry` runs ``/usr/bin/docker-registry serve`` on a free
127.0.0.1 port with a temporary storage directory, and either htpasswd
authentication (a bcrypt file written here) or token authentication against
:class:`TokenServer`, a small Bearer token endpoint signing JWTs with a
self-signed certificate the registry trusts. :class:`Pusher` pushes images
through the distribution API (blob uploads, then manifests), and
:class:`FaultProxy` sits in front of a registry to count requests and to
inject faults (a status, a body that is not JSON, a wrong digest, a slow
answer, a dropped connection).

The pytest fixtures at the end are session-scoped where they can be; a test
module imports the ones it uses (``<name>_fixture``, each named ``<name>`` for
pytest). Without ``/usr/bin/docker-registry`` they
skip, except under CI (``CI`` set), where they fail: CI must not skip them.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import http.client
import http.server
import json
import os
import secrets
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

REGISTRY_PROGRAM = "/usr/bin/docker-registry"
USER = "ci-user"
PASSWORD = "s3cret-Pa55word-never-shown"
IDENTITY_TOKEN = "refresh-7f3e-never-shown"
SERVICE = "imagegraph-test-registry"
ISSUER = "imagegraph-test-issuer"

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def require_registry() -> None:
    """Skip (fail under CI) when the real registry is not installed."""
    if os.path.exists(REGISTRY_PROGRAM):
        return
    reason = f"{REGISTRY_PROGRAM} is not installed (apt-get install docker-registry)"
    if os.environ.get("CI"):
        pytest.fail(reason + "; CI must run the registry tests", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that logs nothing: the test's output stays the test's."""

    def log_message(self, format: str, *args: object) -> None:
        pass


class LoopbackServer:
    """A threaded HTTP server answering with *handler* on a free 127.0.0.1 port
    (:attr:`port`, :attr:`host`), in a daemon thread until :meth:`close`; a context
    manager too."""

    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self.port: int = self._httpd.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def reply(handler: http.server.BaseHTTPRequestHandler, status: int, data: object = None) -> None:
    """Answer *status* with *data* as JSON, or with no body when *data* is ``None``."""
    body = b"" if data is None else json.dumps(data).encode()
    handler.send_response(status)
    if data is not None:
        handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


# -- the registry ---------------------------------------------------------------


@dataclass
class Registry:
    """A running docker-registry: ``host`` is ``127.0.0.1:<port>``."""

    process: subprocess.Popen[bytes]
    port: int
    root: Path
    auth: str

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def write_htpasswd(path: Path, users: Mapping[str, str]) -> None:
    import bcrypt

    lines = [
        f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()}"
        for user, password in users.items()
    ]
    path.write_text("\n".join(lines) + "\n")


def start_registry(
    workdir: Path,
    *,
    auth: str = "htpasswd",
    users: Mapping[str, str] | None = None,
    token_realm: str | None = None,
    certificate: Path | None = None,
) -> Registry:
    """Start docker-registry in *workdir* with *auth* ``htpasswd``, ``token`` or ``none``
    and wait until it answers."""
    require_registry()
    workdir.mkdir(parents=True, exist_ok=True)
    storage = workdir / "storage"
    storage.mkdir(exist_ok=True)
    port = free_port()
    lines = [
        "version: 0.1",
        "log:",
        "  level: error",
        "  accesslog:",
        "    disabled: true",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {storage}",
        "  delete:",
        "    enabled: true",
        "http:",
        f"  addr: 127.0.0.1:{port}",
        f"  secret: {secrets.token_hex(16)}",
    ]
    if auth == "htpasswd":
        htpasswd = workdir / "htpasswd"
        write_htpasswd(htpasswd, users or {USER: PASSWORD})
        lines += ["auth:", "  htpasswd:", "    realm: imagegraph-test", f"    path: {htpasswd}"]
    elif auth == "token":
        assert token_realm is not None
        assert certificate is not None
        lines += [
            "auth:",
            "  token:",
            f"    realm: {token_realm}",
            f"    service: {SERVICE}",
            f"    issuer: {ISSUER}",
            f"    rootcertbundle: {certificate}",
        ]
    config = workdir / "config.yml"
    config.write_text("\n".join(lines) + "\n")
    log = open(workdir / "registry.log", "wb")  # noqa: SIM115 - the process writes it until stopped
    process = subprocess.Popen(
        [REGISTRY_PROGRAM, "serve", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    log.close()
    registry = Registry(process, port, workdir, auth)
    deadline = time.monotonic() + 20
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"docker-registry exited: {(workdir / 'registry.log').read_text()[-2000:]}"
            )
        try:
            answer = httpx.get(f"http://{registry.host}/v2/", timeout=1)
        except httpx.HTTPError:
            answer = None
        if answer is not None and answer.status_code in (200, 401):
            return registry
        if time.monotonic() > deadline:
            registry.stop()
            raise RuntimeError("docker-registry did not answer within 20 s")
        time.sleep(0.05)


# -- the token endpoint ---------------------------------------------------------


class TokenServer(LoopbackServer):
    """A Bearer token endpoint: ``GET /token?service=..&scope=..`` with Basic
    credentials of *users* grants the actions asked for; anonymously, none. The
    JWT is signed with an EC key whose self-signed certificate is in
    :attr:`certificate` (the registry's ``rootcertbundle``), named in the
    token's ``x5c`` header."""

    def __init__(
        self,
        workdir: Path,
        users: Mapping[str, str],
        *,
        expires_in: int = 300,
        refresh_tokens: Mapping[str, str] | None = None,
    ) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.users = dict(users)
        self.refresh_tokens = dict(refresh_tokens or {})  # identity token -> user
        self.expires_in = expires_in
        self.requests: list[tuple[str | None, list[str]]] = []  # (user, scopes)
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(self._key, hashes.SHA256())
        )
        self._x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        self.certificate = workdir / "token-root.pem"
        workdir.mkdir(parents=True, exist_ok=True)
        self.certificate.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                server._answer(self)

            def do_POST(self) -> None:
                server._answer_oauth(self)

        super().__init__(Handler)
        self.realm = f"http://{self.host}/token"

    def token(self, user: str | None, scopes: Sequence[str]) -> str:
        import jwt

        access = []
        if user is not None:
            for scope in scopes:
                kind, _, rest = scope.partition(":")
                name, _, actions = rest.rpartition(":")
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": user or "",
            "aud": SERVICE,
            "exp": now + self.expires_in,
            "nbf": now - 30,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"x5c": [self._x5c]})

    def _answer(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlsplit(handler.path)
        query = urllib.parse.parse_qs(url.query)
        user: str | None = None
        header = handler.headers.get("Authorization", "")
        if header.startswith("Basic "):
            name, _, password = base64.b64decode(header[6:]).decode().partition(":")
            if self.users.get(name) != password:
                self.requests.append((name, query.get("scope", [])))
                reply(handler, 401)
                return
            user = name
        self.requests.append((user, query.get("scope", [])))
        if url.path != "/token" or query.get("service") != [SERVICE]:
            reply(handler, 400)
            return
        token = self.token(user, query.get("scope", []))
        reply(handler, 200, {"token": token, "expires_in": self.expires_in})

    def _answer_oauth(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        """OAuth2 as docker speaks it with an identity token: a form POST with
        ``grant_type=refresh_token``; the answer's token is ``access_token``."""
        length = int(handler.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(handler.rfile.read(length).decode())
        user = self.refresh_tokens.get(form.get("refresh_token", [""])[0])
        scopes = " ".join(form.get("scope", [])).split()
        self.requests.append((user, scopes))
        if (
            form.get("grant_type") != ["refresh_token"]
            or form.get("service") != [SERVICE]
            or user is None
        ):
            reply(handler, 401)
            return
        reply(
            handler, 200, {"access_token": self.token(user, scopes), "expires_in": self.expires_in}
        )


# -- pushing images ---------------------------------------------------------------


@dataclass(frozen=True)
class Pushed:
    """An image pushed: its manifest's digest, bytes and media type, its layers and config."""

    repository: str
    digest: str
    body: bytes
    media_type: str
    layers: tuple[str, ...] = ()
    config: str | None = None
    created: str | None = None


@dataclass
class Pusher:
    """Pushes to *registry* through the distribution API, authenticated as *user*
    (Basic for htpasswd; a push token from *tokens* for token auth)."""

    registry: Registry
    user: str = USER
    password: str = PASSWORD
    tokens: TokenServer | None = None
    _client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self._client = httpx.Client(base_url=f"http://{self.registry.host}", timeout=30)

    def _auth(self, repository: str) -> dict[str, str]:
        if self.tokens is not None:
            token = self.tokens.token(self.user, [f"repository:{repository}:pull,push"])
            return {"Authorization": f"Bearer {token}"}
        if self.registry.auth == "htpasswd":
            raw = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            return {"Authorization": f"Basic {raw}"}
        return {}

    def blob(self, repository: str, data: bytes) -> str:
        digest = sha256(data)
        headers = self._auth(repository)
        started = self._client.post(f"/v2/{repository}/blobs/uploads/", headers=headers)
        assert started.status_code == 202, started.text
        location = started.headers["Location"]
        separator = "&" if "?" in location else "?"
        done = self._client.put(
            f"{location}{separator}digest={digest}",
            content=data,
            headers={**headers, "Content-Type": "application/octet-stream"},
        )
        assert done.status_code == 201, done.text
        return digest

    def manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        answer = self._client.put(
            f"/v2/{repository}/manifests/{reference}",
            content=body,
            headers={**self._auth(repository), "Content-Type": media_type},
        )
        assert answer.status_code == 201, answer.text
        assert answer.headers["Docker-Content-Digest"] == sha256(body)
        return sha256(body)

    def image(
        self,
        repository: str,
        tag: str | None,
        layers: Sequence[bytes],
        *,
        created: str = "2026-01-02T03:04:05Z",
        annotations: Mapping[str, str] | None = None,
        docker: bool = False,
        platform: tuple[str, str] = ("linux", "amd64"),
    ) -> Pushed:
        """An image of *layers* (any bytes) and a config with *created*, tagged *tag*
        (``None``: pushed by digest only), as an OCI or (*docker*) a Docker v2 manifest."""
        config = json.dumps(
            {
                "architecture": platform[1],
                "os": platform[0],
                "created": created,
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": [sha256(layer) for layer in layers]},
            },
            sort_keys=True,
        ).encode()
        layer_type = DOCKER_LAYER if docker else OCI_LAYER
        descriptors = [
            {"mediaType": layer_type, "digest": self.blob(repository, layer), "size": len(layer)}
            for layer in layers
        ]
        config_digest = self.blob(repository, config)
        media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
        manifest: dict[str, object] = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
                "digest": config_digest,
                "size": len(config),
            },
            "layers": descriptors,
        }
        if annotations:
            manifest["annotations"] = dict(annotations)
        body = json.dumps(manifest, indent=3).encode()
        digest = self.manifest(repository, tag or sha256(body), body, media_type)
        return Pushed(
            repository,
            digest,
            body,
            media_type,
            tuple(d["digest"] for d in descriptors),  # type: ignore[misc]
            config_digest,
            created,
        )

    def index(
        self,
        repository: str,
        tag: str,
        images: Sequence[tuple[Pushed, str]],
        *,
        docker: bool = False,
        annotations: Mapping[str, str] | None = None,
        attestation_for: Pushed | None = None,
    ) -> Pushed:
        """An index (a Docker manifest list with *docker*) of *images*, each with its
        platform ``os/arch[/variant]``; with *attestation_for*, an attestation entry
        (``unknown/unknown``, annotated as docker buildx writes it) for that image."""
        entries: list[dict[str, object]] = []
        for image, platform in images:
            os_name, arch, *variant = platform.split("/")
            entry_platform: dict[str, str] = {"architecture": arch, "os": os_name}
            if variant:
                entry_platform["variant"] = variant[0]
            entries.append(
                {
                    "mediaType": image.media_type,
                    "digest": image.digest,
                    "size": len(image.body),
                    "platform": entry_platform,
                }
            )
        if attestation_for is not None:
            statement = self.image(repository, None, [b"in-toto statement"])
            entries.append(
                {
                    "mediaType": statement.media_type,
                    "digest": statement.digest,
                    "size": len(statement.body),
                    "platform": {"architecture": "unknown", "os": "unknown"},
                    "annotations": {
                        "vnd.docker.reference.digest": attestation_for.digest,
                        "vnd.docker.reference.type": "attestation-manifest",
                    },
                }
            )
        media_type = DOCKER_LIST if docker else OCI_INDEX
        index: dict[str, object] = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "manifests": entries,
        }
        if annotations:
            index["annotations"] = dict(annotations)
        body = json.dumps(index, indent=2).encode()
        digest = self.manifest(repository, tag, body, media_type)
        return Pushed(repository, digest, body, media_type)

    def move_tag(self, image: Pushed, tag: str) -> None:
        """Point *tag* of the image's repository at *image*."""
        self.manifest(image.repository, tag, image.body, image.media_type)

    def close(self) -> None:
        self._client.close()


def random_layers(count: int, size: int = 64) -> list[bytes]:
    return [secrets.token_bytes(size) for _ in range(count)]


# -- the fault-injecting proxy ---------------------------------------------------------


@dataclass
class Fault:
    """What the proxy does instead of forwarding, for requests whose path contains
    *match* (any with ``""``), *times* times (``None``: always)."""

    match: str
    kind: str  # "status", "not-json", "replace", "wrong-digest", "no-digest", "slow", "drop"
    status: int = 500
    body: bytes = b""  # what "replace" serves, with its own sha256 as Docker-Content-Digest
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int | None = 1


class FaultProxy(LoopbackServer):
    """A loopback HTTP proxy in front of *upstream* (``host:port``): forwards each
    request as it came (Authorization included), records ``(method, path)`` in
    :attr:`requests`, and applies the first :class:`Fault` added that matches."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.requests: list[tuple[str, str]] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                proxy._handle(self)

            def do_HEAD(self) -> None:
                proxy._handle(self)

        super().__init__(Handler)

    def add(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def reset(self) -> None:
        with self._lock:
            self.faults.clear()
            self.requests.clear()

    def count(self, contains: str = "", method: str | None = None) -> int:
        """Requests whose path contains *contains* (and of *method*, if given)."""
        with self._lock:
            return sum(
                1
                for verb, path in self.requests
                if contains in path and (method is None or verb == method)
            )

    def _take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            self.requests.append((method, path))
            for fault in self.faults:
                if fault.match in path and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def _handle(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        fault = self._take(handler.command, handler.path)
        head = handler.command == "HEAD"
        if fault is not None and fault.kind == "drop":
            handler.close_connection = True
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
        if fault is not None and fault.kind == "status":
            body = json.dumps({"errors": [{"code": "INJECTED", "message": "fault"}]}).encode()
            self._reply(handler, fault.status, {**fault.headers}, body, head)
            return
        if fault is not None and fault.kind in ("not-json", "replace"):
            body = b"<html>an error page, not a manifest</html>"
            if fault.kind == "replace":
                body = fault.body
            headers = {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": sha256(body)}
            self._reply(handler, 200, headers, body, head)
            return
        status, headers, body = self._forward(handler)
        if fault is not None and fault.kind == "wrong-digest":
            headers["Docker-Content-Digest"] = sha256(body + b" ")
        if fault is not None and fault.kind == "no-digest":
            headers = {k: v for k, v in headers.items() if k.lower() != "docker-content-digest"}
        self._reply(handler, status, headers, body, head)

    def _forward(
        self, handler: http.server.BaseHTTPRequestHandler
    ) -> tuple[int, dict[str, str], bytes]:
        host, _, port = self.upstream.partition(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            headers = {
                k: v
                for k, v in handler.headers.items()
                if k.lower() not in ("host", "connection", "keep-alive")
            }
            connection.request(handler.command, handler.path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            kept = {
                k: v
                for k, v in response.getheaders()
                if k.lower() not in ("transfer-encoding", "connection", "keep-alive")
            }
            return response.status, kept, body
        finally:
            connection.close()

    @staticmethod
    def _reply(
        handler: http.server.BaseHTTPRequestHandler,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        head: bool,
    ) -> None:
        handler.send_response(status)
        for key, value in headers.items():
            if key.lower() != "content-length":
                handler.send_header(key, value)
        length = headers.get("Content-Length") if head else None
        handler.send_header("Content-Length", length or str(len(body)))
        handler.end_headers()
        if not head:
            handler.wfile.write(body)


# -- docker's config.json and credential helpers -------------------------------------


def write_docker_config(directory: Path, config: Mapping[str, object]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    return directory


def basic_auths(host: str, user: str = USER, password: str = PASSWORD) -> dict[str, object]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"auths": {host: {"auth": raw}}}


# -- fixtures -----------------------------------------------------------------------


@pytest.fixture(scope="session", name="registry")
def registry_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A docker-registry with htpasswd authentication (:data:`USER`, :data:`PASSWORD`)."""
    running = start_registry(tmp_path_factory.mktemp("registry"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session", name="pusher")
def pusher_fixture(registry: Registry) -> Iterator[Pusher]:
    push = Pusher(registry)
    try:
        yield push
    finally:
        push.close()


@pytest.fixture(scope="session", name="token_server")
def token_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenServer]:
    server = TokenServer(
        tmp_path_factory.mktemp("tokens"), {USER: PASSWORD}, refresh_tokens={IDENTITY_TOKEN: USER}
    )
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session", name="token_registry")
def token_registry_fixture(
    tmp_path_factory: pytest.TempPathFactory, token_server: TokenServer
) -> Iterator[Registry]:
    """A docker-registry with token authentication against :func:`token_server`."""
    running = start_registry(
        tmp_path_factory.mktemp("token-registry"),
        auth="token",
        token_realm=token_server.realm,
        certificate=token_server.certificate,
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(name="proxy")
def proxy_fixture(registry: Registry) -> Iterator[FaultProxy]:
    """A fresh :class:`FaultProxy` in front of :func:`registry`."""
    front = FaultProxy(registry.host)
    try:
        yield front
    finally:
        front.close()


def credential_helper(directory: Path, name: str, script: str) -> Path:
    """Write ``docker-credential-<name>`` (a Python script of *script*) into *directory*."""
    import sys

    directory.mkdir(parents=True, exist_ok=True)
    program = directory / f"docker-credential-{name}"
    program.write_text(f"#!{sys.executable}\n{script}")
    program.chmod(0o755)
    return program
