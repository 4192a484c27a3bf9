"""A client of the OCI distribution API: manifests, digests and config blobs, read from registries.

:class:`RegistryClient` is the live :class:`~imagegraph.oci.ManifestSource`:
it speaks HTTPS (plain HTTP only to loopback registries, as docker does, and
to the hosts named *insecure*), authenticates as docker does (anonymous
first, then ``Basic`` or a ``Bearer`` token from the realm the registry's
challenge names, with the credentials of ``DOCKER_CONFIG``), reads a
mirror for the registries the fleet's ``[aliases]`` map onto, retries what
may pass (connection errors, timeouts, ``5xx``, ``429`` after its
``Retry-After``), and keeps what is addressed by digest in an on-disk cache,
checked against its digest whenever it is read.

>>> client = RegistryClient(jobs=4, timeout=10.0)
>>> client.scheme("127.0.0.1:5000"), client.scheme("ghcr.io")
('http', 'https')
>>> client.endpoint(ImageRef.parse("debian:bookworm"))
('registry-1.docker.io', 'library/debian')
>>> mirrored = RegistryClient(aliases={"mirror.acme.internal/hub": "docker.io"})
>>> mirrored.endpoint(ImageRef.parse("debian:bookworm"))
('mirror.acme.internal', 'hub/library/debian')
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email.utils
import hashlib
import ipaddress
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imagegraph.oci import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    Manifest,
    RegistryError,
)
from imagegraph.reference import DEFAULT_REGISTRY, ImageRef

if TYPE_CHECKING:
    import httpx

__all__ = ["CredentialError", "RegistryClient"]

_DOCKER_HUB_API = "registry-1.docker.io"
# The key docker writes Docker Hub's credentials under, and hands its helpers.
_DOCKER_HUB_SERVER = "https://index.docker.io/v1/"
_DOCKER_HUB_KEYS = ("index.docker.io", "docker.io", "registry-1.docker.io")
_ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))
_ATTESTATION = "attestation-manifest"
_REFERENCE_TYPE = "vnd.docker.reference.type"
# distribution refuses manifests over 4 MiB; a config blob is JSON of a few KiB.
_MANIFEST_MAX = 4 << 20
_BLOB_MAX = 16 << 20
_DIGEST_RE = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+", re.ASCII)
_SHA256_RE = re.compile(r"sha256:[a-f0-9]{64}", re.ASCII)
_CHALLENGE_PARAM = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')
# A token as a header carries it: visible ASCII, no spaces (RFC 6750's b64token and
# the JWTs registries give are within it).
_TOKEN_RE = re.compile(r"[\x21-\x7e]+", re.ASCII)
_HELPER_TIMEOUT = 30.0
# A token without expires_in lasts 60 seconds (the token specification's default).
_TOKEN_DEFAULT_LIFETIME = 60.0


class CredentialError(RegistryError):
    """The credentials for a registry could not be read: a ``config.json`` that
    is not docker's, or a credential helper that is missing, failed or timed
    out (code ``registry-credentials``). The message names the file or the
    helper, never a credential."""

    def __init__(self, reference: str, message: str) -> None:
        super().__init__("registry-credentials", reference, message)
        self.detail = message


@dataclass(frozen=True, slots=True)
class _Credentials:
    username: str
    password: str
    identity_token: str | None = None
    """An OAuth2 refresh token (docker's ``identitytoken``): traded at the realm for
    an access token, where a password would be sent as Basic credentials."""

    def __repr__(self) -> str:
        return f"_Credentials(username={self.username!r}, password=<hidden>)"

    def basic(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True, slots=True)
class _Challenge:
    scheme: str  # "basic" or "bearer"
    params: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class _Answer:
    """A registry's answer, its body read (within the size allowed)."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    url: str = ""
    """Where the answer came from, after any redirect."""


class _Downgrade(Exception):
    """A redirect to plain HTTP where HTTPS is required (raised before connecting)."""


class _Retry(Exception):
    """An answer worth asking again for, after *wait* seconds (``None``: the backoff)."""

    def __init__(self, error: RegistryError, wait: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.wait = wait


class RegistryClient:
    """Reads manifests, digests and config blobs from registries.

    *aliases* are the fleet's ``[aliases]`` (mirror prefix -> what it mirrors):
    an image of the mirrored registry is read from the mirror. *insecure* names
    registry hosts (``host`` or ``host:port``) spoken to over plain HTTP;
    loopback registries always are. *docker_config* is the directory holding
    ``config.json`` (default: ``$DOCKER_CONFIG``, else ``~/.docker``). *jobs*
    bounds the requests in flight; *timeout* is per request; *tries* bounds
    the attempts at one request (connection errors, timeouts, ``5xx`` and
    ``429`` are tried again, after *backoff* seconds doubling each time, or
    after ``Retry-After`` capped at *max_wait*). *cache* false keeps nothing
    on disk; *cache_dir* overrides where the cache is. *progress* is called
    with (done, total) as :meth:`manifests` answers.

    The client holds a connection pool: :meth:`close` it, or use it in a
    ``with`` block::

        with RegistryClient(aliases={"mirror.acme.internal/hub": "docker.io"}) as client:
            answers = client.manifests([ImageRef.parse("debian:bookworm")])
            for reference, answer in answers.items():
                if isinstance(answer, RegistryError):
                    print(reference.familiar, answer.code, answer)
                elif answer.is_index:
                    print(reference.familiar, answer.for_platform("linux/amd64"))
    """

    def __init__(
        self,
        *,
        aliases: Mapping[str, str] | None = None,
        insecure: Iterable[str] = (),
        docker_config: str | os.PathLike[str] | None = None,
        jobs: int = 8,
        timeout: float = 30.0,
        tries: int = 3,
        backoff: float = 0.5,
        max_wait: float = 60.0,
        cache: bool = True,
        cache_dir: str | os.PathLike[str] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        if jobs < 1:
            raise ValueError("jobs must be at least 1")
        if tries < 1:
            raise ValueError("tries must be at least 1")
        self._aliases = _mirrors(aliases or {})
        self._insecure = frozenset(h.strip().lower() for h in insecure if h.strip())
        self._docker_config = Path(docker_config) if docker_config is not None else None
        self.jobs = jobs
        self.timeout = timeout
        self.tries = tries
        self.backoff = backoff
        self.max_wait = max_wait
        self._cache_dir: Path | None
        if not cache:
            self._cache_dir = None
        elif cache_dir is not None:
            self._cache_dir = Path(cache_dir)
        else:
            from imagegraph._reading import cache_directory

            self._cache_dir = cache_directory() / "registry"
        self.progress = progress
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._challenges: dict[str, _Challenge] = {}  # host -> how it last challenged
        self._token_locks: dict[tuple[str, str], threading.Lock] = {}
        self._credentials: dict[str, _Credentials | CredentialError | None] = {}
        self._host_locks: dict[str, threading.Lock] = {}
        self._config: dict[str, Any] | CredentialError | None = None

    # -- the public verbs ---------------------------------------------------

    def manifest(self, reference: ImageRef) -> Manifest:
        """The manifest *reference* names now (by its digest if it has one, else its
        tag), checked against its digest; raises :class:`RegistryError`."""
        if reference.digest is not None:
            cached = self._cached(reference.digest)
            if cached is not None:
                return _parse_manifest(str(reference), reference.digest, cached, None)
        body, digest, content_type = self._fetch_manifest(reference)
        return _parse_manifest(str(reference), digest, body, content_type)

    def manifests(self, references: Sequence[ImageRef]) -> dict[ImageRef, Manifest | RegistryError]:
        """:meth:`manifest` for each of *references*, *jobs* at a time: each answer or
        the :class:`RegistryError` for it (one failing never stops the others)."""
        unique = list(dict.fromkeys(references))
        result: dict[ImageRef, Manifest | RegistryError] = {}
        total = len(unique)
        if self.progress is not None:
            self.progress(0, total)
        if not unique:
            return result

        def one(reference: ImageRef) -> Manifest | RegistryError:
            try:
                return self.manifest(reference)
            except RegistryError as error:
                return error

        done = 0
        with ThreadPoolExecutor(max_workers=min(self.jobs, total)) as pool:
            futures = {pool.submit(one, reference): reference for reference in unique}
            for future in as_completed(futures):
                result[futures[future]] = future.result()
                done += 1
                if self.progress is not None:
                    self.progress(done, total)
        return {reference: result[reference] for reference in unique}

    def digest(self, reference: ImageRef) -> str:
        """The digest *reference* names now, from a ``HEAD`` request's
        ``Docker-Content-Digest`` (a ``GET`` when the registry gives none)."""
        host, path = self.endpoint(reference)
        target = reference.digest or reference.tag or "latest"
        response = self._request(
            "HEAD", host, path, f"/v2/{path}/manifests/{target}", str(reference), _ACCEPT
        )
        header = response.headers.get("Docker-Content-Digest")
        if header and _DIGEST_RE.fullmatch(header):
            if reference.digest is not None and header != reference.digest:
                raise RegistryError(
                    "registry-malformed",
                    str(reference),
                    f"the registry answered digest {header} for a reference by digest",
                )
            return str(header)
        return self._fetch_manifest(reference)[1]

    def config(self, reference: ImageRef, digest: str) -> Mapping[str, Any]:
        """The image config blob *digest* of *reference*'s repository, as JSON (an
        object: ``created``, ``architecture``, ``rootfs``...), checked against its digest."""
        if not _DIGEST_RE.fullmatch(digest):
            raise RegistryError("registry-malformed", str(reference), f"invalid digest {digest!r}")
        body = self._cached(digest)
        if body is None:
            host, path = self.endpoint(reference)
            response = self._request(
                "GET", host, path, f"/v2/{path}/blobs/{digest}", str(reference), "*/*", _BLOB_MAX
            )
            body = response.content
            if not _matches(digest, body):
                raise RegistryError(
                    "registry-malformed",
                    str(reference),
                    f"config blob {digest} served with content of another digest",
                )
            self._store(digest, body)
        try:
            value = _loads(body)
        except ValueError as error:
            raise RegistryError(
                "registry-malformed", str(reference), f"config blob {digest} is not JSON: {error}"
            ) from None
        if not isinstance(value, dict):
            raise RegistryError(
                "registry-malformed", str(reference), f"config blob {digest} is not a JSON object"
            )
        return value

    def close(self) -> None:
        """Close the connection pool (the client opens a new one if used again)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RegistryClient(jobs={self.jobs}, timeout={self.timeout}, insecure={sorted(self._insecure)})"

    # -- where and how to ask ----------------------------------------------

    def endpoint(self, reference: ImageRef) -> tuple[str, str]:
        """The API host and repository path *reference* is read from: its mirror's
        when an alias maps a mirror onto it; Docker Hub's API host for ``docker.io``."""
        name = reference.name
        for mirror, target in self._aliases:
            if name == target or name.startswith(target + "/"):
                rewritten = mirror + name[len(target) :]
                host, _, path = rewritten.partition("/")
                if path:
                    return _checked_endpoint(host, path, reference)
        host = _DOCKER_HUB_API if reference.registry == DEFAULT_REGISTRY else reference.registry
        return _checked_endpoint(host, reference.path, reference)

    def scheme(self, host: str) -> str:
        """``http`` for a loopback registry or one named insecure, else ``https``."""
        lowered = host.lower()
        bare = _bare_host(lowered)
        if lowered in self._insecure or bare in self._insecure or _is_loopback(bare):
            return "http"
        return "https"

    # -- requests -----------------------------------------------------------

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                import httpx

                self._client = httpx.Client(
                    timeout=self.timeout,
                    follow_redirects=True,
                    limits=httpx.Limits(
                        max_connections=self.jobs * 2, max_keepalive_connections=self.jobs * 2
                    ),
                    headers={"User-Agent": "imagegraph"},
                    trust_env=False,
                    event_hooks={"request": [self._refuse_downgrade]},
                )
            return self._client

    def _refuse_downgrade(self, request: httpx.Request) -> None:
        """Every request, redirects included: plain HTTP only where :meth:`scheme`
        allows it. A registry's redirect to ``http://`` elsewhere is refused before
        anything is sent there."""
        if request.url.scheme != "https":
            host = request.url.netloc.decode("ascii", "replace")
            if request.url.scheme != "http" or self.scheme(host) != "http":
                raise _Downgrade(f"{request.url.scheme}://{host}")

    def _fetch_manifest(self, reference: ImageRef) -> tuple[bytes, str, str | None]:
        """The manifest's bytes, their digest (checked) and the Content-Type served."""
        host, path = self.endpoint(reference)
        target = reference.digest or reference.tag or "latest"
        response = self._request(
            "GET",
            host,
            path,
            f"/v2/{path}/manifests/{target}",
            str(reference),
            _ACCEPT,
            _MANIFEST_MAX,
        )
        body = response.content
        computed = "sha256:" + hashlib.sha256(body).hexdigest()
        header = response.headers.get("Docker-Content-Digest")
        if header and not _matches(header, body):
            raise RegistryError(
                "registry-malformed",
                str(reference),
                f"the manifest served does not match its Docker-Content-Digest {header}",
            )
        if reference.digest is not None:
            if not _matches(reference.digest, body):
                raise RegistryError(
                    "registry-malformed",
                    str(reference),
                    f"the manifest served for {reference.digest} has digest {computed}",
                )
            computed = reference.digest
        elif header and not header.startswith("sha256:"):
            computed = header
        self._store(computed, body)
        return body, computed, response.headers.get("Content-Type")

    def _request(
        self,
        method: str,
        host: str,
        path: str,
        url_path: str,
        reference: str,
        accept: str,
        limit: int = _MANIFEST_MAX,
    ) -> _Answer:
        """*method* on *url_path* of *host*, authenticated as needed, tried up to
        :attr:`tries` times; a 2xx answer (its body read, up to *limit* bytes) or
        the :class:`RegistryError` saying why not."""
        url = f"{self.scheme(host)}://{host}{url_path}"
        last: _Retry | None = None
        for attempt in range(self.tries):
            if last is not None:
                wait = last.wait if last.wait is not None else self.backoff * 2 ** (attempt - 1)
                time.sleep(min(wait, self.max_wait))
            try:
                return self._authenticated(method, host, path, url, reference, accept, limit)
            except _Retry as retry:
                last = retry
        assert last is not None
        raise last.error

    def _authenticated(
        self,
        method: str,
        host: str,
        path: str,
        url: str,
        reference: str,
        accept: str,
        limit: int,
    ) -> _Answer:
        scope = f"repository:{path}:pull"
        authorization = self._known_authorization(host, scope, reference)
        response = self._send(method, url, reference, accept, authorization, limit)
        if response.status_code == 401 and not _same_origin(response.url, url):
            # Met with this host's credentials, the challenge of a host it redirected
            # to would hand them to a realm that host names.
            raise RegistryError(
                "registry-unauthorized",
                reference,
                f"{host} redirected to {_origin(response.url)}, which refused access (401); "
                f"{host}'s credentials are not sent to another host's realm",
            )
        if response.status_code == 401:
            challenge = _parse_challenge(response.headers.get("WWW-Authenticate", ""))
            if challenge is None:
                raise RegistryError(
                    "registry-unauthorized",
                    reference,
                    f"{host} refused access (401) without a challenge it could be met by",
                )
            authorization = self._answer(challenge, host, scope, reference, authorization)
            response = self._send(method, url, reference, accept, authorization, limit)
            if response.status_code == 401:
                raise RegistryError(
                    "registry-unauthorized",
                    reference,
                    f"{host} refused the credentials for {path} (401)",
                )
        return self._checked(response, host, reference)

    def _send(
        self,
        method: str,
        url: str,
        reference: str,
        accept: str,
        authorization: str | None,
        limit: int,
        form: Mapping[str, str] | None = None,
    ) -> _Answer:
        import httpx

        headers = {"Accept": accept}
        if authorization is not None:
            headers["Authorization"] = authorization
        try:
            # A form carries a refresh token: never resent where a redirect points.
            with self._http().stream(
                method, url, headers=headers, data=form, follow_redirects=form is None
            ) as response:
                chunks: list[bytes] = []
                size = 0
                # The timeout bounds each read; a registry dripping its answer a
                # byte at a time is bounded by this deadline on the whole of it.
                deadline = time.monotonic() + self.timeout
                for chunk in response.iter_bytes():
                    if time.monotonic() > deadline:
                        raise _Retry(
                            RegistryError(
                                "registry-timeout",
                                reference,
                                f"the answer took longer than {self.timeout:g} s",
                            )
                        )
                    size += len(chunk)
                    if limit and size > limit:
                        raise RegistryError(
                            "registry-malformed",
                            reference,
                            f"the answer is larger than {limit} bytes",
                        )
                    chunks.append(chunk)
                return _Answer(
                    response.status_code, response.headers, b"".join(chunks), str(response.url)
                )
        except _Downgrade as refused:
            raise RegistryError(
                "registry-insecure-redirect",
                reference,
                f"{_origin(url)} redirected to {refused}: plain HTTP only to loopback "
                "registries and those named with --insecure-registry",
            ) from None
        except httpx.TimeoutException:
            raise _Retry(
                RegistryError("registry-timeout", reference, f"no answer within {self.timeout:g} s")
            ) from None
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as error:
            raise _Retry(
                RegistryError(
                    "registry-unreachable",
                    reference,
                    f"cannot reach {_origin(url)}: {_reason(error)}",
                )
            ) from None
        except httpx.LocalProtocolError:
            # Its message quotes the offending header, which may be the Authorization.
            raise RegistryError(
                "registry-error", reference, f"{_origin(url)}: the request could not be sent"
            ) from None
        except httpx.HTTPError as error:
            raise RegistryError(
                "registry-unreachable", reference, f"{_origin(url)}: {_reason(error)}"
            ) from None

    def _checked(self, response: _Answer, host: str, reference: str) -> _Answer:
        status = response.status_code
        if 200 <= status < 300:
            return response
        detail = _error_detail(response)
        if status == 429:
            wait = _retry_after(response.headers.get("Retry-After"))
            raise _Retry(
                RegistryError(
                    "registry-rate-limited", reference, f"{host} is limiting requests (429){detail}"
                ),
                wait if wait is not None else self.backoff,
            )
        if status >= 500:
            raise _Retry(
                RegistryError("registry-error", reference, f"{host} answered {status}{detail}")
            )
        if status == 404:
            raise RegistryError(
                "registry-not-found", reference, f"{host} has no such image{detail}"
            )
        if status in (401, 403):
            raise RegistryError(
                "registry-unauthorized", reference, f"{host} refused access ({status}){detail}"
            )
        raise RegistryError("registry-error", reference, f"{host} answered {status}{detail}")

    # -- authentication -----------------------------------------------------

    def _known_authorization(self, host: str, scope: str, reference: str) -> str | None:
        """What to send before being challenged, once *host* has challenged: Basic
        credentials, or a token for *scope* (cached, or asked of the realm *host*
        named, which spares each further repository its anonymous round trip)."""
        with self._lock:
            challenge = self._challenges.get(host)
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            credentials = self._credentials_for(host, reference)
            if credentials is None or credentials.identity_token is not None:
                return None
            return credentials.basic()
        return self._bearer(challenge, host, scope, scope, reference, refused=None)

    def _answer(
        self, challenge: _Challenge, host: str, scope: str, reference: str, refused: str | None
    ) -> str:
        """The Authorization meeting *challenge*, *refused* being the one just sent."""
        with self._lock:
            self._challenges[host] = challenge
        if challenge.scheme == "basic":
            credentials = self._credentials_for(host, reference)
            if credentials is None:
                raise RegistryError(
                    "registry-unauthorized",
                    reference,
                    f"{host} asks for credentials and none are configured for it",
                )
            if credentials.identity_token is not None:
                raise RegistryError(
                    "registry-unauthorized",
                    reference,
                    f"{host} asks for Basic credentials; an identity token only answers "
                    "a Bearer challenge",
                )
            return credentials.basic()
        wanted = challenge.params.get("scope") or scope
        return self._bearer(challenge, host, scope, wanted, reference, refused=refused)

    def _bearer(
        self,
        challenge: _Challenge,
        host: str,
        scope: str,
        wanted: str,
        reference: str,
        *,
        refused: str | None,
    ) -> str:
        """A Bearer Authorization for *scope* of *host*: the cached token unless it
        expired or is the one *refused*, else one token asked for *wanted* (threads
        wanting the same scope wait for that one request)."""
        key = (host, scope)
        with self._lock:
            key_lock = self._token_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                cached = self._tokens.get(key)
            if cached is not None and cached[1] > time.monotonic():
                authorization = "Bearer " + cached[0]
                if authorization != refused:
                    return authorization
            credentials = self._credentials_for(host, reference)
            token, lifetime = self._token(
                challenge.params.get("realm", ""),
                challenge.params.get("service"),
                wanted,
                credentials,
                host,
                reference,
            )
            with self._lock:
                # A little early, so that no token expires on its way to the registry.
                self._tokens[key] = (token, time.monotonic() + max(lifetime - 5.0, 1.0))
        return "Bearer " + token

    def _token(
        self,
        realm: str,
        service: str | None,
        scope: str,
        credentials: _Credentials | None,
        host: str,
        reference: str,
    ) -> tuple[str, float]:
        import httpx

        try:
            realm_url = httpx.URL(realm)
        except (httpx.InvalidURL, TypeError):
            realm_url = None
        if realm_url is None or realm_url.scheme not in ("http", "https") or not realm_url.host:
            raise RegistryError(
                "registry-unauthorized", reference, f"{host} names no usable token realm"
            )
        realm_host = realm_url.netloc.decode("ascii", "replace")
        if realm_url.scheme == "http" and self.scheme(realm_host) != "http":
            # Credentials and tokens go over plain HTTP only where registries may.
            raise RegistryError(
                "registry-unauthorized",
                reference,
                f"{host} names a token realm over plain HTTP ({realm_host}); "
                "name it with --insecure-registry to allow it",
            )
        params = {"service": service, "scope": scope} if service else {"scope": scope}
        if credentials is not None and credentials.identity_token is not None:
            # OAuth2, as docker trades an identity token: a POST of the refresh token.
            form = {
                **params,
                "grant_type": "refresh_token",
                "refresh_token": credentials.identity_token,
                "client_id": "imagegraph",
            }
            response = self._send(
                "POST", str(realm_url), reference, "application/json", None, 1 << 20, form
            )
        else:
            response = self._send(
                "GET",
                str(realm_url.copy_merge_params(params)),
                reference,
                "application/json",
                credentials.basic() if credentials else None,
                1 << 20,
            )
        if response.status_code in (401, 403):
            raise RegistryError(
                "registry-unauthorized",
                reference,
                f"the token realm {realm_host} refused "
                + ("the credentials" if credentials else "an anonymous token")
                + f" for {scope} ({response.status_code})",
            )
        if response.status_code != 200:
            self._checked(response, realm_host, reference)
            raise RegistryError(
                "registry-unauthorized",
                reference,
                f"the token realm {realm_host} answered {response.status_code}",
            )
        try:
            answer = _loads(response.content)
        except ValueError:
            answer = None
        token: object = None
        lifetime: float = _TOKEN_DEFAULT_LIFETIME
        if isinstance(answer, dict):
            token = answer.get("token") or answer.get("access_token")
            expires = answer.get("expires_in")
            if isinstance(expires, int | float) and not isinstance(expires, bool) and expires > 0:
                lifetime = float(expires)
        if not isinstance(token, str) or not token:
            raise RegistryError(
                "registry-unauthorized",
                reference,
                f"the token realm {realm_host} answered without a token",
            )
        if not _TOKEN_RE.fullmatch(token):
            # Sent as it is, it would fail in the HTTP library, whose error quotes
            # the header: the token would be in the message.
            raise RegistryError(
                "registry-unauthorized",
                reference,
                f"the token realm {realm_host} answered a token that is no HTTP header value",
            )
        return token, lifetime

    def _credentials_for(self, host: str, reference: str) -> _Credentials | None:
        """The user's credentials for *host* (``None``: none configured), read once."""

        def answer(found: _Credentials | CredentialError | None) -> _Credentials | None:
            # A failed read is kept, and raised again for each reference asking.
            if isinstance(found, CredentialError):
                raise CredentialError(reference, found.detail)
            return found

        with self._lock:
            if host in self._credentials:
                return answer(self._credentials[host])
            host_lock = self._host_locks.setdefault(host, threading.Lock())
        with host_lock:
            # Another thread may have read them while this one waited for the host.
            with self._lock:
                if host in self._credentials:
                    return answer(self._credentials[host])
            found: _Credentials | CredentialError | None
            try:
                found = self._read_credentials(host)
            except CredentialError as error:
                found = error
            with self._lock:
                self._credentials[host] = found
        return answer(found)

    def _config_file(self) -> Path:
        if self._docker_config is not None:
            return self._docker_config / "config.json"
        directory = os.environ.get("DOCKER_CONFIG")
        if directory:
            return Path(directory) / "config.json"
        return Path.home() / ".docker" / "config.json"

    def _read_config(self) -> dict[str, Any]:
        with self._lock:
            config = self._config
        if config is None:
            path = self._config_file()
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                config = {}
            except (OSError, UnicodeDecodeError) as error:
                config = CredentialError(
                    "", f"cannot read {path}: {getattr(error, 'strerror', None) or error}"
                )
            else:
                try:
                    value = _loads(text)
                except ValueError as error:
                    config = CredentialError("", f"{path} is not JSON: {error.args[0]}")
                else:
                    config = (
                        value
                        if isinstance(value, dict)
                        else CredentialError("", f"{path} is not a JSON object")
                    )
            with self._lock:
                self._config = config
        if isinstance(config, CredentialError):
            raise config
        return config

    def _read_credentials(self, host: str) -> _Credentials | None:
        config = self._read_config()
        path = self._config_file()
        hub = host == _DOCKER_HUB_API
        keys = (host, *_DOCKER_HUB_KEYS) if hub else (host,)
        helpers = config.get("credHelpers")
        if isinstance(helpers, dict):
            for key in keys:
                helper = helpers.get(key)
                if isinstance(helper, str) and helper:
                    return _run_helper(helper, _DOCKER_HUB_SERVER if hub else host)
        auths = config.get("auths")
        entry: object = None
        if isinstance(auths, dict):
            for key, value in auths.items():
                if isinstance(key, str) and _auth_key_host(key) in keys:
                    entry = value
                    break
        if isinstance(entry, dict) and (
            entry.get("auth") or entry.get("username") or entry.get("identitytoken")
        ):
            return _from_auth_entry(entry, path, host)
        store = config.get("credsStore")
        if isinstance(store, str) and store:
            return _run_helper(store, _DOCKER_HUB_SERVER if hub else host)
        return None

    # -- the cache of objects addressed by digest ---------------------------

    def _cache_path(self, digest: str) -> Path | None:
        if self._cache_dir is None or not _SHA256_RE.fullmatch(digest):
            return None
        algorithm, _, hexadecimal = digest.partition(":")
        return self._cache_dir / algorithm / hexadecimal

    def _cached(self, digest: str) -> bytes | None:
        """The cached bytes of *digest*, if there and still of that digest."""
        path = self._cache_path(digest)
        if path is None:
            return None
        try:
            with open(path, "rb") as handle:
                data = handle.read(_BLOB_MAX + 1)
        except OSError:
            return None
        if len(data) > _BLOB_MAX or not _matches(digest, data):
            return None  # tampered with or torn: fetched again, and replaced
        return data

    def _store(self, digest: str, body: bytes) -> None:
        """Keep *body* under *digest*, atomically; failing to only costs a later fetch."""
        path = self._cache_path(digest)
        if path is None:
            return
        temporary: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                dir=path.parent, prefix=".blob-", suffix=".tmp", delete=False
            ) as handle:
                temporary = handle.name
                handle.write(body)
            os.replace(temporary, path)
            temporary = None
        except OSError:
            return
        finally:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)


def _mirrors(aliases: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """(mirror, mirrored) pairs, normalised as ImageRef normalises alias prefixes,
    longest mirrored prefix first (the first alias given wins a tie)."""
    from imagegraph.reference import _normalise_prefix

    pairs = [(_normalise_prefix(m), _normalise_prefix(t)) for m, t in aliases.items()]
    return tuple(sorted(pairs, key=lambda pair: -len(pair[1])))


def _checked_endpoint(host: str, path: str, reference: ImageRef) -> tuple[str, str]:
    """*host* and *path* when they are a registry host and a repository path as the
    reference grammar has them. A fleet's ``[aliases]`` are the repository's word, not
    checked when read: a mirror such as ``127.0.0.1:1@evil.example/hub`` would be a
    loopback host to :meth:`RegistryClient.scheme` (plain HTTP) and ``evil.example``
    to the URL, and ``..`` in a path would leave ``/v2/`` with the user's credentials."""
    from imagegraph.reference import _DOMAIN_RE, _PATH_RE

    if not _DOMAIN_RE.fullmatch(host):
        raise RegistryError(
            "registry-invalid-host", str(reference), f"{host[:200]!r} is not a registry host name"
        )
    if not _PATH_RE.fullmatch(path):
        raise RegistryError(
            "registry-invalid-host", str(reference), f"{path[:200]!r} is not a repository path"
        )
    return host, path


def _bare_host(host: str) -> str:
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _auth_key_host(key: str) -> str:
    """``https://index.docker.io/v1/`` -> ``index.docker.io``, as docker matches auths keys."""
    key = key.strip().lower()
    for prefix in ("https://", "http://"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    return key.partition("/")[0]


def _from_auth_entry(entry: Mapping[str, Any], path: Path, host: str) -> _Credentials:
    """An ``auths`` entry: ``auth`` (base64 ``user:password``) or ``username`` and
    ``password``; an ``identitytoken`` beside them wins over the password."""
    identity = entry.get("identitytoken")
    identity = identity if isinstance(identity, str) and identity else None
    username: str | None = None
    password: str | None = None
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            decoded = base64.b64decode(auth, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            decoded = ""
        username, colon, password = decoded.partition(":")
        if not colon:
            raise CredentialError(
                "", f"{path}: the auth entry for {host} is not base64 of user:password"
            )
    else:
        user, secret = entry.get("username"), entry.get("password")
        if isinstance(user, str):
            username, password = user, secret if isinstance(secret, str) else ""
    if identity is not None:
        return _Credentials(username or "", "", identity_token=identity)
    if username is None or password is None:
        raise CredentialError("", f"{path}: the auth entry for {host} has no usable credentials")
    return _Credentials(username, password)


def _run_helper(name: str, server: str) -> _Credentials | None:
    """Ask ``docker-credential-<name>`` for *server*'s credentials, as docker does:
    ``get`` with the server on stdin, JSON on stdout; no shell. ``None`` when the
    helper has none for it."""
    program_name = f"docker-credential-{name}"
    if "/" in name or os.sep in name:
        raise CredentialError("", f"invalid credential helper name {name!r}")
    program = shutil.which(program_name)
    if program is None:
        raise CredentialError("", f"credential helper {program_name} is not on PATH")
    try:
        done = subprocess.run(
            [program, "get"],
            input=server.encode(),
            capture_output=True,
            timeout=_HELPER_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CredentialError(
            "", f"credential helper {program_name} gave no answer within {_HELPER_TIMEOUT:g} s"
        ) from None
    except OSError as error:
        raise CredentialError(
            "", f"cannot run credential helper {program_name}: {error.strerror or error}"
        ) from None
    if done.returncode != 0:
        # The helpers' own word for "nothing stored": docker goes on anonymously.
        if b"credentials not found" in done.stdout.lower() + done.stderr.lower():
            return None
        # The helper's output is not repeated: it is the user's program and
        # might echo what it was asked for.
        raise CredentialError(
            "", f"credential helper {program_name} failed (exit status {done.returncode})"
        )
    try:
        answer = _loads(done.stdout)
    except (ValueError, UnicodeDecodeError):
        answer = None
    if not isinstance(answer, dict):
        raise CredentialError("", f"credential helper {program_name} answered no JSON object")
    username, secret = answer.get("Username"), answer.get("Secret")
    if not isinstance(username, str) or not isinstance(secret, str):
        raise CredentialError(
            "", f"credential helper {program_name} answered without Username and Secret"
        )
    if username == "<token>":
        # docker's convention: the secret is an identity (refresh) token.
        return _Credentials(username, "", identity_token=secret)
    return _Credentials(username, secret)


def _parse_challenge(header: str) -> _Challenge | None:
    scheme, _, rest = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme not in ("basic", "bearer"):
        return None
    params = {
        match.group(1).lower(): (
            match.group(2).replace('\\"', '"') if match.group(2) is not None else match.group(3)
        )
        for match in _CHALLENGE_PARAM.finditer(rest)
    }
    if scheme == "bearer" and not params.get("realm"):
        return None
    return _Challenge(scheme, params)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: a number or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _matches(digest: str, body: bytes) -> bool:
    algorithm, _, expected = digest.partition(":")
    if algorithm not in ("sha256", "sha384", "sha512"):
        return False
    return hashlib.new(algorithm, body).hexdigest() == expected.lower()


def _error_detail(response: _Answer) -> str:
    """The registry's own error code and message, if its body has them (distribution's
    ``{"errors": [{"code", "message"}]}``), shortened."""
    try:
        body = _loads(response.content[:65536])
    except ValueError:
        return ""
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        code = errors[0].get("code")
        message = errors[0].get("message")
        text = ": " + " ".join(str(x) for x in (code, message) if isinstance(x, str))
        return text[:200]
    return ""


def _loads(data: bytes | str) -> Any:
    """*data* as JSON; :class:`ValueError` for anything that is not, nesting too deep
    for the parser (``RecursionError``) included: the bytes are a registry's."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except UnicodeDecodeError as error:
        raise ValueError(str(error)) from None


def _same_origin(one: str, other: str) -> bool:
    import httpx

    first, second = httpx.URL(one), httpx.URL(other)
    ports = {"http": 80, "https": 443}
    return (first.scheme, first.host, first.port or ports.get(first.scheme)) == (
        second.scheme,
        second.host,
        second.port or ports.get(second.scheme),
    )


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.partition('/')[0]}"


def _reason(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return text[:200]


def _parse_manifest(reference: str, digest: str, body: bytes, content_type: str | None) -> Manifest:
    """*body* read as an image manifest or index of either family."""

    def malformed(why: str) -> RegistryError:
        return RegistryError("registry-malformed", reference, f"not a manifest: {why}")

    try:
        value = _loads(body)
    except ValueError:
        raise malformed("the answer is not JSON") from None
    if not isinstance(value, dict):
        raise malformed("the answer is not a JSON object")
    if value.get("schemaVersion") != 2:
        raise malformed(f"schemaVersion {value.get('schemaVersion')!r} (only 2 is read)")
    media_type = value.get("mediaType")
    if media_type is None:
        served = (content_type or "").partition(";")[0].strip()
        if served in INDEX_TYPES or served in MANIFEST_TYPES:
            media_type = served
        elif "manifests" in value:
            media_type = OCI_INDEX
        elif "layers" in value:
            media_type = OCI_MANIFEST
    if media_type not in INDEX_TYPES and media_type not in MANIFEST_TYPES:
        raise malformed(f"media type {media_type!r}")
    annotations = _annotations(value.get("annotations"), malformed)
    # An index lists manifests; an image manifest, layers and a config.
    manifests: tuple[Descriptor, ...] = ()
    layers: tuple[str, ...] = ()
    config: str | None = None
    if media_type in INDEX_TYPES:
        entries = value.get("manifests")
        if not isinstance(entries, list):
            raise malformed("an index without a manifests list")
        manifests = tuple(_descriptor(entry, malformed) for entry in entries)
    else:
        listed, described = value.get("layers"), value.get("config")
        if not isinstance(listed, list) or not isinstance(described, dict):
            raise malformed("an image manifest without layers and config")
        layers = tuple(_digest_of(layer, malformed) for layer in listed)
        config = _digest_of(described, malformed)
    return Manifest(
        reference=reference,
        digest=digest,
        media_type=media_type,
        annotations=annotations,
        layers=layers,
        config=config,
        manifests=manifests,
    )


def _annotations(value: object, malformed: Callable[[str], RegistryError]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise malformed("annotations that are not a map of strings")
    return dict(value)


def _digest_of(value: object, malformed: Callable[[str], RegistryError]) -> str:
    digest = value.get("digest") if isinstance(value, dict) else None
    if not isinstance(digest, str) or not _DIGEST_RE.fullmatch(digest):
        raise malformed(f"a descriptor without a valid digest ({digest!r})")
    return digest


def _descriptor(entry: object, malformed: Callable[[str], RegistryError]) -> Descriptor:
    if not isinstance(entry, dict):
        raise malformed("an index entry that is not an object")
    digest = _digest_of(entry, malformed)
    media_type = entry.get("mediaType")
    size = entry.get("size")
    if not isinstance(media_type, str):
        raise malformed(f"index entry {digest} without a media type")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise malformed(f"index entry {digest} without a valid size")
    annotations = _annotations(entry.get("annotations"), malformed)
    platform: str | None = None
    raw = entry.get("platform")
    if raw is not None and annotations.get(_REFERENCE_TYPE) != _ATTESTATION:
        if not isinstance(raw, dict):
            raise malformed(f"index entry {digest} with a platform that is not an object")
        os_name, arch, variant = raw.get("os"), raw.get("architecture"), raw.get("variant")
        if not isinstance(os_name, str) or not isinstance(arch, str) or not os_name or not arch:
            raise malformed(f"index entry {digest} with a platform without os and architecture")
        platform = f"{os_name}/{arch}"
        if isinstance(variant, str) and variant:
            platform += f"/{variant}"
    return Descriptor(
        media_type=media_type, digest=digest, size=size, platform=platform, annotations=annotations
    )
