"""RegistryClient against a real registry (docker-registry on loopback), not a mock."""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imagegraph import RegistryClient
from imagegraph.oci import (
    BASE_DIGEST,
    BASE_NAME,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Manifest,
    RegistryError,
)
from imagegraph.reference import ImageRef
from imagegraph.registry import CredentialError, _parse_manifest, _retry_after

# The harness; its fixtures (the *_fixture names) imported for pytest to find.
from tests.registry_server import (  # noqa: F401
    IDENTITY_TOKEN,
    PASSWORD,
    USER,
    Fault,
    FaultProxy,
    LoopbackServer,
    Pushed,
    Pusher,
    QuietHandler,
    Registry,
    TokenServer,
    basic_auths,
    credential_helper,
    free_port,
    proxy_fixture,
    pusher_fixture,
    random_layers,
    registry_fixture,
    start_registry,
    token_registry_fixture,
    token_server_fixture,
    write_docker_config,
)

SECRET_FORMS = (PASSWORD, IDENTITY_TOKEN, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())


def repository() -> str:
    """A repository of its own for each test (the registry is shared by the session)."""
    return f"team/app-{secrets.token_hex(4)}"


def ref(host: str, repo: str, tag: str = "1") -> ImageRef:
    return ImageRef.parse(f"{host}/{repo}:{tag}")


def by_digest(host: str, repo: str, digest: str) -> ImageRef:
    return ImageRef.parse(f"{host}/{repo}@{digest}")


@pytest.fixture
def config_dir(tmp_path: Path, proxy: FaultProxy, registry: Registry) -> Path:
    """A docker config with the test user's credentials for the registry and its proxy."""
    auths: dict[str, object] = {
        **basic_auths(proxy.host)["auths"],  # type: ignore[dict-item]
        **basic_auths(registry.host)["auths"],  # type: ignore[dict-item]
    }
    return write_docker_config(tmp_path / "docker", {"auths": auths})


@pytest.fixture
def client(config_dir: Path, tmp_path: Path) -> Iterator[RegistryClient]:
    with RegistryClient(
        docker_config=config_dir, cache_dir=tmp_path / "cache", backoff=0.01, timeout=5
    ) as made:
        yield made


@pytest.fixture
def new_client() -> Iterator[Callable[..., RegistryClient]]:
    """Makes clients that are closed when the test ends."""
    made: list[RegistryClient] = []

    def make(**options: Any) -> RegistryClient:
        made.append(RegistryClient(**options))
        return made[-1]

    yield make
    for client in made:
        client.close()


def assert_no_secret(*texts: object) -> None:
    for text in texts:
        for form in SECRET_FORMS:
            assert form not in str(text)
            assert form not in repr(text)


# -- authentication --------------------------------------------------------------


def test_anonymous_is_denied_and_basic_credentials_from_config_json_are_used(
    registry: Registry, pusher: Pusher, tmp_path: Path, new_client: Callable[..., RegistryClient]
) -> None:
    repo = repository()
    image = pusher.image(repo, "1", random_layers(2))
    anonymous = new_client(docker_config=tmp_path / "none", cache=False)
    with pytest.raises(RegistryError) as denied:
        anonymous.manifest(ref(registry.host, repo))
    assert denied.value.code == "registry-unauthorized"
    assert "none are configured" in str(denied.value)

    config = write_docker_config(tmp_path / "docker", basic_auths(registry.host))
    with RegistryClient(docker_config=config, cache=False) as client:
        manifest = client.manifest(ref(registry.host, repo))
    assert manifest.digest == image.digest
    assert manifest.layers == image.layers
    assert manifest.config == image.config
    assert manifest.reference == f"{registry.host}/{repo}:1"


def test_docker_config_environment_and_auth_written_as_username_password(
    registry: Registry, pusher: Pusher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = repository()
    image = pusher.image(repo, "1", random_layers(1))
    directory = write_docker_config(
        tmp_path / "env-docker",
        # docker's own key form: a URL with a scheme.
        {"auths": {f"http://{registry.host}": {"username": USER, "password": PASSWORD}}},
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    with RegistryClient(cache=False) as client:
        assert client.manifest(ref(registry.host, repo)).digest == image.digest


def test_wrong_password_is_refused_and_never_shown(
    registry: Registry, pusher: Pusher, tmp_path: Path, new_client: Callable[..., RegistryClient]
) -> None:
    repo = repository()
    pusher.image(repo, "1", random_layers(1))
    wrong = "not-the-" + PASSWORD
    config = write_docker_config(tmp_path / "d", basic_auths(registry.host, password=wrong))
    client = new_client(docker_config=config, cache=False)
    with pytest.raises(RegistryError) as refused:
        client.manifest(ref(registry.host, repo))
    assert refused.value.code == "registry-unauthorized"
    assert_no_secret(refused.value, client, refused.value.args)
    assert wrong not in str(refused.value)
    assert base64.b64encode(f"{USER}:{wrong}".encode()).decode() not in repr(refused.value)


def test_bearer_token_flow_with_the_registry_token_auth(
    token_registry: Registry, token_server: TokenServer, tmp_path: Path
) -> None:
    repo = repository()
    push = Pusher(token_registry, tokens=token_server)
    image = push.image(repo, "1", random_layers(2), docker=True)
    other = push.image(repo, "2", random_layers(1))
    push.close()
    config = write_docker_config(tmp_path / "d", basic_auths(token_registry.host))
    before = len(token_server.requests)
    with RegistryClient(docker_config=config, cache=False) as client:
        first = client.manifest(ref(token_registry.host, repo))
        second = client.manifest(ref(token_registry.host, repo, "2"))
        assert client.digest(ref(token_registry.host, repo)) == image.digest
    assert (first.digest, second.digest) == (image.digest, other.digest)
    assert first.media_type == DOCKER_MANIFEST
    # One token for the repository's pull scope, asked with the user's credentials,
    # served from the cache for the later requests.
    assert token_server.requests[before:] == [(USER, [f"repository:{repo}:pull"])]


def test_bearer_tokens_are_asked_once_per_repository_and_again_when_expired(
    token_registry: Registry,
    token_server: TokenServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first_repo, second_repo = repository(), repository()
    push = Pusher(token_registry, tokens=token_server)
    firsts = [push.image(first_repo, str(n), random_layers(1)) for n in range(6)]
    second = push.image(second_repo, "1", random_layers(1))
    push.close()
    front = FaultProxy(token_registry.host)
    config = write_docker_config(tmp_path / "d", basic_auths(front.host))
    # Tokens of 2 s are kept 1 s (a margin against expiring on the way).
    monkeypatch.setattr(token_server, "expires_in", 2)
    before = len(token_server.requests)
    try:
        with RegistryClient(docker_config=config, cache=False, jobs=6) as client:
            answers = client.manifests([ref(front.host, first_repo, str(n)) for n in range(6)])
            assert [a.digest for a in answers.values() if isinstance(a, Manifest)] == [
                f.digest for f in firsts
            ]
            # Six requests challenged at once, one token asked for.
            assert len(token_server.requests) - before == 1
            # A repository of a host known to want tokens: its token is asked for
            # before its first request, which is not challenged.
            assert client.manifest(ref(front.host, second_repo)).digest == second.digest
            assert front.count(f"/v2/{second_repo}/") == 1
            assert len(token_server.requests) - before == 2
            time.sleep(1.2)
            client.manifest(ref(front.host, first_repo, "0"))
            assert len(token_server.requests) - before == 3
    finally:
        front.close()
    assert token_server.requests[before:] == [
        (USER, [f"repository:{first_repo}:pull"]),
        (USER, [f"repository:{second_repo}:pull"]),
        (USER, [f"repository:{first_repo}:pull"]),
    ]


def test_identity_token_is_traded_at_the_realm(
    token_registry: Registry,
    token_server: TokenServer,
    tmp_path: Path,
    helper_path: Path,
    new_client: Callable[..., RegistryClient],
) -> None:
    repo = repository()
    push = Pusher(token_registry, tokens=token_server)
    image = push.image(repo, "1", random_layers(1))
    push.close()
    # As docker login keeps it: the user with no password, and the identity token.
    user_only = base64.b64encode(f"{USER}:".encode()).decode()
    config = write_docker_config(
        tmp_path / "d",
        {"auths": {token_registry.host: {"auth": user_only, "identitytoken": IDENTITY_TOKEN}}},
    )
    before = len(token_server.requests)
    client = new_client(docker_config=config, cache=False)
    assert client.manifest(ref(token_registry.host, repo)).digest == image.digest
    assert token_server.requests[before:] == [(USER, [f"repository:{repo}:pull"])]

    # A helper answering "<token>" gives an identity token too; a wrong one is refused.
    credential_helper(
        helper_path,
        "identity",
        'import json, sys\nsys.stdin.read()\nprint(json.dumps({"Username": "<token>", "Secret": "wrong"}))\n',
    )
    config = write_docker_config(tmp_path / "e", {"credHelpers": {token_registry.host: "identity"}})
    with pytest.raises(RegistryError) as refused:
        new_client(docker_config=config, cache=False).manifest(ref(token_registry.host, repo))
    assert refused.value.code == "registry-unauthorized"
    assert "token realm" in str(refused.value)
    assert token_server.requests[-1] == (None, [f"repository:{repo}:pull"])


def test_bearer_anonymous_token_grants_nothing(
    token_registry: Registry,
    token_server: TokenServer,
    tmp_path: Path,
    new_client: Callable[..., RegistryClient],
) -> None:
    repo = repository()
    push = Pusher(token_registry, tokens=token_server)
    push.image(repo, "1", random_layers(1))
    push.close()
    client = new_client(docker_config=tmp_path / "none", cache=False)
    with pytest.raises(RegistryError) as refused:
        client.manifest(ref(token_registry.host, repo))
    assert refused.value.code == "registry-unauthorized"
    assert token_server.requests[-1] == (None, [f"repository:{repo}:pull"])


def test_bearer_realm_refusing_the_password_is_unauthorized_without_it(
    token_registry: Registry,
    token_server: TokenServer,
    tmp_path: Path,
    new_client: Callable[..., RegistryClient],
) -> None:
    wrong = "wrong-" + PASSWORD
    config = write_docker_config(tmp_path / "d", basic_auths(token_registry.host, password=wrong))
    client = new_client(docker_config=config, cache=False)
    with pytest.raises(RegistryError) as refused:
        client.manifest(ref(token_registry.host, repository()))
    assert refused.value.code == "registry-unauthorized"
    assert "token realm" in str(refused.value)
    assert wrong not in str(refused.value)
    assert_no_secret(refused.value)


# -- credential helpers ------------------------------------------------------------


HELPER_OK = f"""
import json, sys
server = sys.stdin.read().strip()
if sys.argv[1:] != ["get"]:
    sys.exit(5)
if server != sys.argv[0].rsplit("/", 1)[0].rsplit("/", 1)[-1].replace("_", ":"):
    pass
print(json.dumps({{"ServerURL": server, "Username": "{USER}", "Secret": "{PASSWORD}"}}))
"""

HELPER_FAILS = f"""
import sys
sys.stdin.read()
print("leaking {PASSWORD} on the way out")
sys.exit(3)
"""

HELPER_NOTHING = """
import sys
sys.stdin.read()
print("credentials not found in native keychain")
sys.exit(1)
"""


@pytest.fixture
def helper_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ['PATH']}")
    return directory


def test_credential_helper_is_run_with_the_server_on_stdin(
    registry: Registry, pusher: Pusher, tmp_path: Path, helper_path: Path
) -> None:
    repo = repository()
    image = pusher.image(repo, "1", random_layers(1))
    seen = tmp_path / "seen"
    credential_helper(
        helper_path,
        "imagegraphtest",
        HELPER_OK + f"\nopen({str(seen)!r}, 'w').write(server + ' ' + ' '.join(sys.argv[1:]))\n",
    )
    config = write_docker_config(tmp_path / "d", {"credHelpers": {registry.host: "imagegraphtest"}})
    with RegistryClient(docker_config=config, cache=False) as client:
        assert client.manifest(ref(registry.host, repo)).digest == image.digest
    assert seen.read_text() == f"{registry.host} get"


def test_creds_store_is_the_helper_for_every_registry(
    registry: Registry, pusher: Pusher, tmp_path: Path, helper_path: Path
) -> None:
    repo = repository()
    image = pusher.image(repo, "1", random_layers(1))
    credential_helper(helper_path, "storetest", HELPER_OK)
    config = write_docker_config(tmp_path / "d", {"credsStore": "storetest"})
    with RegistryClient(docker_config=config, cache=False) as client:
        assert client.manifest(ref(registry.host, repo)).digest == image.digest


def test_failing_credential_helper_is_a_named_error_without_its_output(
    registry: Registry, pusher: Pusher, tmp_path: Path, helper_path: Path
) -> None:
    repo = repository()
    pusher.image(repo, "1", random_layers(1))
    pusher.image(repo, "2", random_layers(1))
    credential_helper(helper_path, "broken", HELPER_FAILS)
    config = write_docker_config(tmp_path / "d", {"credHelpers": {registry.host: "broken"}})
    with RegistryClient(docker_config=config, cache=False) as client:
        answers = client.manifests([ref(registry.host, repo), ref(registry.host, repo, "2")])
    for answer in answers.values():
        assert isinstance(answer, CredentialError)
        assert answer.code == "registry-credentials"
        assert str(answer).endswith(
            "credential helper docker-credential-broken failed (exit status 3)"
        )
        assert_no_secret(answer)


def test_missing_credential_helper_and_helper_without_credentials(
    registry: Registry,
    pusher: Pusher,
    tmp_path: Path,
    helper_path: Path,
    new_client: Callable[..., RegistryClient],
) -> None:
    repo = repository()
    pusher.image(repo, "1", random_layers(1))
    config = write_docker_config(tmp_path / "d", {"credHelpers": {registry.host: "absent"}})
    with pytest.raises(CredentialError, match="docker-credential-absent is not on PATH"):
        new_client(docker_config=config, cache=False).manifest(ref(registry.host, repo))

    credential_helper(helper_path, "empty", HELPER_NOTHING)
    config = write_docker_config(tmp_path / "e", {"credHelpers": {registry.host: "empty"}})
    with pytest.raises(RegistryError) as refused:
        new_client(docker_config=config, cache=False).manifest(ref(registry.host, repo))
    # Nothing stored is no error of the helper's: the registry refuses the anonymous request.
    assert refused.value.code == "registry-unauthorized"


def test_config_json_that_is_not_json_is_named(
    registry: Registry, pusher: Pusher, tmp_path: Path, new_client: Callable[..., RegistryClient]
) -> None:
    repo = repository()
    pusher.image(repo, "1", random_layers(1))
    directory = tmp_path / "d"
    directory.mkdir()
    (directory / "config.json").write_text('{"auths": ')
    with pytest.raises(CredentialError, match=r"config\.json is not JSON"):
        new_client(docker_config=directory, cache=False).manifest(ref(registry.host, repo))


# -- manifests of both families, indexes -------------------------------------------


@pytest.mark.parametrize("docker", [False, True], ids=["oci", "docker"])
def test_index_per_platform_in_both_media_type_families(
    docker: bool, registry: Registry, pusher: Pusher, client: RegistryClient
) -> None:
    repo = repository()
    amd = pusher.image(repo, None, random_layers(2), docker=docker)
    arm = pusher.image(repo, None, random_layers(2), docker=docker, platform=("linux", "arm64"))
    annotations = {BASE_NAME: "docker.io/library/debian:bookworm", BASE_DIGEST: amd.digest}
    index = pusher.index(
        repo,
        "multi",
        [(amd, "linux/amd64"), (arm, "linux/arm64/v8")],
        docker=docker,
        annotations=None if docker else annotations,
        attestation_for=None if docker else amd,
    )
    read = client.manifest(ref(registry.host, repo, "multi"))
    assert read.is_index
    assert read.media_type == (DOCKER_LIST if docker else OCI_INDEX)
    assert read.digest == index.digest
    platforms = [entry.platform for entry in read.manifests]
    assert platforms == (
        ["linux/amd64", "linux/arm64/v8"] if docker else ["linux/amd64", "linux/arm64/v8", None]
    )
    entry = read.for_platform("linux/arm64")
    assert entry is not None
    assert entry.digest == arm.digest
    if not docker:
        assert read.base_name == "docker.io/library/debian:bookworm"
        assert read.base_digest == amd.digest
        assert read.manifests[2].annotations["vnd.docker.reference.type"] == "attestation-manifest"
    image = client.manifest(by_digest(registry.host, repo, entry.digest))
    assert image.media_type == (DOCKER_MANIFEST if docker else OCI_MANIFEST)
    assert image.layers == arm.layers
    assert image.reference == f"{registry.host}/{repo}@{arm.digest}"


def test_base_annotations_on_an_image_manifest_and_the_config_created(
    registry: Registry, pusher: Pusher, client: RegistryClient
) -> None:
    repo = repository()
    base = f"{registry.host}/team/base:1"
    image = pusher.image(
        repo,
        "1",
        random_layers(1),
        created="2026-03-04T05:06:07Z",
        annotations={BASE_NAME: base, BASE_DIGEST: "sha256:" + "b" * 64},
    )
    read = client.manifest(ref(registry.host, repo))
    assert (read.base_name, read.base_digest) == (base, "sha256:" + "b" * 64)
    assert read.config is not None
    config = client.config(ref(registry.host, repo), read.config)
    assert config["created"] == "2026-03-04T05:06:07Z"
    assert image.config == read.config


def test_head_gives_the_digest_without_a_body(
    pusher: Pusher, proxy: FaultProxy, client: RegistryClient
) -> None:
    repo = repository()
    image = pusher.image(repo, "1", random_layers(1))
    assert client.digest(ref(proxy.host, repo)) == image.digest
    assert proxy.count(f"/v2/{repo}/manifests/", method="GET") == 0
    # Anonymous first (401), then with the credentials.
    assert proxy.count(f"/v2/{repo}/manifests/1", method="HEAD") == 2
    with pytest.raises(RegistryError) as missing:
        client.digest(ref(proxy.host, repo, "never-pushed"))
    assert missing.value.code == "registry-not-found"


def test_without_docker_content_digest_the_bytes_give_it(
    pusher: Pusher, proxy: FaultProxy, client: RegistryClient
) -> None:
    repo = repository()
    image = pusher.image(repo, "1", random_layers(1))
    proxy.add(Fault(f"/v2/{repo}/manifests/", "no-digest", times=None))
    assert client.digest(ref(proxy.host, repo)) == image.digest
    # The HEAD said nothing, so the manifest was read and hashed.
    assert proxy.count(f"/v2/{repo}/manifests/1", method="GET") >= 1
    assert client.manifest(ref(proxy.host, repo)).digest == image.digest


def test_docker_hub_credentials_under_dockers_own_key(
    tmp_path: Path, new_client: Callable[..., RegistryClient]
) -> None:
    config = write_docker_config(
        tmp_path / "d",
        {"auths": {"https://index.docker.io/v1/": {"username": USER, "password": PASSWORD}}},
    )
    client = new_client(docker_config=config, cache=False)
    host, path = client.endpoint(ImageRef.parse("debian:bookworm"))
    assert (host, path) == ("registry-1.docker.io", "library/debian")
    credentials = client._credentials_for(host, "debian:bookworm")
    assert credentials is not None
    assert credentials.username == USER
    assert_no_secret(credentials)
    assert client._credentials_for("ghcr.io", "ghcr.io/acme/app:1") is None


# -- digests checked ---------------------------------------------------------------------


def test_a_docker_content_digest_the_bytes_do_not_have_is_malformed(
    pusher: Pusher, proxy: FaultProxy, client: RegistryClient
) -> None:
    repo = repository()
    pusher.image(repo, "1", random_layers(1))
    proxy.add(Fault(f"/v2/{repo}/manifests/1", "wrong-digest", times=None))
    with pytest.raises(RegistryError) as bad:
        client.manifest(ref(proxy.host, repo))
    assert bad.value.code == "registry-malformed"
    assert "does not match its Docker-Content-Digest" in str(bad.value)


def test_bytes_of_another_digest_for_a_digest_reference_are_malformed(
    pusher: Pusher, proxy: FaultProxy, client: RegistryClient
) -> None:
    repo = repository()
    asked = pusher.image(repo, "1", random_layers(1))
    other = pusher.image(repo, "2", random_layers(1))
    # A consistent answer (header and bytes agree), but for another manifest.
    proxy.add(Fault(f"/v2/{repo}/manifests/{asked.digest}", "replace", body=other.body))
    with pytest.raises(RegistryError) as bad:
        client.manifest(by_digest(proxy.host, repo, asked.digest))
    assert bad.value.code == "registry-malformed"
    assert f"has digest {other.digest}" in str(bad.value)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"<html>an error page</html>", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b" " * (4 << 20) + b"{}", "larger than 4194304 bytes"),
        (b'{"schemaVersion": 1, "name": "x", "fsLayers": []}', "schemaVersion 1"),
        (b'{"schemaVersion": 2, "mediaType": "text/plain"}', "media type 'text/plain'"),
        (
            b'{"schemaVersion": 2, "mediaType": "%s", "layers": "x"}' % OCI_MANIFEST.encode(),
            "without layers and config",
        ),
        (
            b'{"schemaVersion": 2, "mediaType": "%s", "manifests": [{"digest": "x"}]}'
            % OCI_INDEX.encode(),
            "without a valid digest",
        ),
    ],
    ids=["html", "array", "oversize", "schema-1", "media-type", "no-layers", "bad-digest"],
)
def test_answers_that_are_no_manifest_are_malformed(
    body: bytes, why: str, pusher: Pusher, proxy: FaultProxy, client: RegistryClient
) -> None:
    repo = repository()
    pusher.image(repo, "1", random_layers(1))
    proxy.add(Fault(f"/v2/{repo}/manifests/", "replace", body=body, times=None))
    with pytest.raises(RegistryError) as bad:
        client.manifest(ref(proxy.host, repo))
    assert bad.value.code == "registry-malformed"
    assert why in str(bad.value)


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "schemaVersion",
                        "mediaType",
                        "manifests",
                        "layers",
                        "config",
                        "digest",
                        "annotations",
                        "platform",
                        "os",
                        "architecture",
                        "size",
                        "variant",
                    ]
                ),
                children,
                max_size=5,
            )
        ),
        max_leaves=20,
    )
)
def test_any_json_is_a_manifest_or_registry_malformed(value: object) -> None:
    body = json.dumps(value).encode()
    outcome: Manifest | RegistryError
    try:
        outcome = _parse_manifest("r/x:1", "sha256:" + "0" * 64, body, None)
    except RegistryError as error:
        outcome = error
    if isinstance(outcome, RegistryError):
        assert outcome.code == "registry-malformed"
    else:
        assert outcome.is_index or outcome.config is not None


# -- the cache -----------------------------------------------------------------------


def test_cache_hit_reads_nothing_and_a_tampered_file_is_refetched(
    pusher: Pusher, proxy: FaultProxy, config_dir: Path, tmp_path: Path
) -> None:
    repo = repository()
    image = pusher.image(repo, "1", random_layers(2))
    cache = tmp_path / "shared-cache"
    wanted = by_digest(proxy.host, repo, image.digest)
    with RegistryClient(docker_config=config_dir, cache_dir=cache) as first:
        first.manifest(wanted)
        assert image.config is not None
        first.config(wanted, image.config)
    assert proxy.count() > 0
    proxy.reset()
    with RegistryClient(docker_config=config_dir, cache_dir=cache) as second:
        again = second.manifest(wanted)
        config = second.config(wanted, image.config)
    assert again.digest == image.digest
    assert again.layers == image.layers
    assert config["created"] == image.created
    assert proxy.count() == 0

    stored = cache / "sha256" / image.digest.partition(":")[2]
    assert stored.read_bytes() == image.body
    stored.write_bytes(image.body.replace(b"schemaVersion", b"schemaVersioN"))
    with RegistryClient(docker_config=config_dir, cache_dir=cache) as third:
        assert third.manifest(wanted).layers == image.layers
    assert proxy.count(f"/manifests/{image.digest}", method="GET") >= 1
    assert stored.read_bytes() == image.body


def test_tags_are_never_cached_and_the_default_cache_is_under_the_cache_directory(
    pusher: Pusher, proxy: FaultProxy, config_dir: Path
) -> None:
    from imagegraph._reading import cache_directory

    repo = repository()
    image = pusher.image(repo, "1", random_layers(1))
    with RegistryClient(docker_config=config_dir) as client:
        client.manifest(ref(proxy.host, repo))
        moved = pusher.image(repo, "1", random_layers(1))
        assert client.manifest(ref(proxy.host, repo)).digest == moved.digest
        # What was read by tag is kept under its digest, so reading by digest is local.
        proxy.reset()
        client.manifest(by_digest(proxy.host, repo, image.digest))
        assert proxy.count() == 0
    assert (cache_directory() / "registry" / "sha256" / moved.digest[7:]).is_file()


def test_no_cache_keeps_nothing(
    pusher: Pusher, proxy: FaultProxy, config_dir: Path, tmp_path: Path
) -> None:
    repo = repository()
    image = pusher.image(repo, "1", random_layers(1))
    with RegistryClient(docker_config=config_dir, cache=False) as client:
        client.manifest(by_digest(proxy.host, repo, image.digest))
        client.manifest(by_digest(proxy.host, repo, image.digest))
    # The anonymous request the registry challenged, then both reads.
    assert proxy.count(f"/manifests/{image.digest}", method="GET") == 3


# -- aliases -----------------------------------------------------------------------------


def test_an_aliased_image_is_read_from_its_mirror(
    pusher: Pusher,
    proxy: FaultProxy,
    client: RegistryClient,
    config_dir: Path,
    tmp_path: Path,
    new_client: Callable[..., RegistryClient],
) -> None:
    suffix = secrets.token_hex(3)
    image = pusher.image(f"hub/library/debian{suffix}", "bookworm", random_layers(1))
    mirrored = new_client(
        docker_config=config_dir,
        cache_dir=tmp_path / "c",
        aliases={f"{proxy.host}/hub": "docker.io"},
    )
    wanted = ImageRef.parse(f"debian{suffix}:bookworm")
    manifest = mirrored.manifest(wanted)
    assert manifest.digest == image.digest
    assert manifest.reference == f"docker.io/library/debian{suffix}:bookworm"
    assert proxy.count(f"/v2/hub/library/debian{suffix}/manifests/bookworm") == 2
    assert mirrored.digest(wanted) == image.digest
    # An image the aliases do not cover is read from its own registry.
    assert mirrored.endpoint(ImageRef.parse("ghcr.io/acme/app:1")) == ("ghcr.io", "acme/app")


# -- faults ------------------------------------------------------------------------------


def three_images(pusher: Pusher) -> tuple[str, list[Pushed]]:
    repo = repository()
    return repo, [pusher.image(repo, tag, random_layers(1)) for tag in ("a", "b", "c")]


@pytest.mark.parametrize(
    ("fault", "code", "tries"),
    [
        (Fault("", "status", status=500, times=None), "registry-error", 3),
        (Fault("", "status", status=503, times=None), "registry-error", 3),
        (Fault("", "status", status=404, times=None), "registry-not-found", 1),
        (Fault("", "status", status=403, times=None), "registry-unauthorized", 1),
        (
            Fault("", "status", status=429, headers={"Retry-After": "0"}, times=None),
            "registry-rate-limited",
            3,
        ),
        (Fault("", "not-json", times=None), "registry-malformed", 1),
        (Fault("", "drop", times=None), "registry-unreachable", 3),
        (Fault("", "slow", delay=1.5, times=None), "registry-timeout", 3),
    ],
    ids=["500", "503", "404", "403", "429", "not-json", "dropped", "slow"],
)
def test_each_fault_is_its_code_and_the_others_are_answered(
    fault: Fault,
    code: str,
    tries: int,
    pusher: Pusher,
    proxy: FaultProxy,
    config_dir: Path,
    tmp_path: Path,
) -> None:
    repo, (a, _b, c) = three_images(pusher)
    fault.match = f"/v2/{repo}/manifests/b"
    proxy.add(fault)
    with RegistryClient(
        docker_config=config_dir, cache=False, backoff=0.01, timeout=0.5, tries=3
    ) as client:
        # Authenticate first, so that the counts below are of the faulty requests alone.
        client.manifest(ref(proxy.host, repo, "a"))
        proxy.requests.clear()
        answers = client.manifests([ref(proxy.host, repo, t) for t in "abc"])
    failed = answers[ref(proxy.host, repo, "b")]
    assert isinstance(failed, RegistryError)
    assert failed.code == code
    assert failed.reference == f"{proxy.host}/{repo}:b"
    assert_no_secret(failed)
    for tag, pushed in (("a", a), ("c", c)):
        answer = answers[ref(proxy.host, repo, tag)]
        assert isinstance(answer, Manifest)
        assert answer.digest == pushed.digest
    assert proxy.count(f"/v2/{repo}/manifests/b") == tries


def test_a_passing_fault_is_retried_away(
    pusher: Pusher, proxy: FaultProxy, config_dir: Path
) -> None:
    repo, (a, _, _) = three_images(pusher)
    proxy.add(Fault(f"/v2/{repo}/manifests/a", "status", status=502, times=2))
    with RegistryClient(docker_config=config_dir, cache=False, backoff=0.01, tries=3) as client:
        assert client.manifest(ref(proxy.host, repo, "a")).digest == a.digest


def test_429_waits_for_retry_after(pusher: Pusher, proxy: FaultProxy, config_dir: Path) -> None:
    repo, (a, _, _) = three_images(pusher)
    proxy.add(Fault(f"/v2/{repo}/manifests/a", "status", status=429, headers={"Retry-After": "1"}))
    with RegistryClient(docker_config=config_dir, cache=False, backoff=0.01) as client:
        started = time.monotonic()
        assert client.manifest(ref(proxy.host, repo, "a")).digest == a.digest
        assert time.monotonic() - started >= 1.0


def test_retry_after_capped_by_max_wait(
    pusher: Pusher, proxy: FaultProxy, config_dir: Path
) -> None:
    repo, (a, _, _) = three_images(pusher)
    proxy.add(
        Fault(f"/v2/{repo}/manifests/a", "status", status=429, headers={"Retry-After": "3600"})
    )
    with RegistryClient(docker_config=config_dir, cache=False, max_wait=0.2) as client:
        started = time.monotonic()
        assert client.manifest(ref(proxy.host, repo, "a")).digest == a.digest
        assert time.monotonic() - started < 5


def test_retry_after_as_seconds_or_http_date() -> None:
    assert _retry_after("7") == 7.0
    future = time.time() + 120
    from email.utils import formatdate

    wait = _retry_after(formatdate(future, usegmt=True))
    assert wait is not None
    assert 100 < wait <= 121
    assert _retry_after(formatdate(time.time() - 600, usegmt=True)) == 0.0
    assert _retry_after("soon") is None
    assert _retry_after(None) is None


def test_nothing_listening_is_unreachable_for_every_reference(config_dir: Path) -> None:
    host = f"127.0.0.1:{free_port()}"
    with RegistryClient(docker_config=config_dir, cache=False, backoff=0.01) as client:
        answers = client.manifests([ImageRef.parse(f"{host}/team/x:{t}") for t in "ab"])
    for answer in answers.values():
        assert isinstance(answer, RegistryError)
        assert answer.code == "registry-unreachable"
        assert f"cannot reach http://{host}" in str(answer)


def test_a_registry_stopped_mid_run(tmp_path: Path) -> None:
    own = start_registry(tmp_path / "own")
    try:
        push = Pusher(own)
        repo = repository()
        image = push.image(repo, "1", random_layers(1))
        push.close()
        config = write_docker_config(tmp_path / "d", basic_auths(own.host))
        with RegistryClient(docker_config=config, cache=False, backoff=0.01) as client:
            assert client.manifest(ref(own.host, repo)).digest == image.digest
            own.stop()
            answers = client.manifests([ref(own.host, repo), ref(own.host, repo, "2")])
    finally:
        own.stop()
    assert {a.code for a in answers.values() if isinstance(a, RegistryError)} == {
        "registry-unreachable"
    }
    assert len(answers) == 2


def test_progress_is_reported_to_the_end(
    pusher: Pusher, registry: Registry, client: RegistryClient
) -> None:
    repo, _ = three_images(pusher)
    seen: list[tuple[int, int]] = []
    client.progress = lambda done, total: seen.append((done, total))
    refs = [ref(registry.host, repo, t) for t in "abc"] + [ref(registry.host, repo, "zz")]
    answers = client.manifests([*refs, refs[0]])
    assert list(answers) == refs
    assert seen[0] == (0, 4)
    assert seen[-1] == (4, 4)
    assert [done for done, _ in seen] == [0, 1, 2, 3, 4]


def test_plain_http_only_for_loopback_and_insecure_hosts(
    new_client: Callable[..., RegistryClient],
) -> None:
    client = new_client(insecure=["registry.lan:5000", "build-cache"], cache=False)
    assert client.scheme("127.0.0.1:5000") == "http"
    assert client.scheme("127.1.2.3") == "http"
    assert client.scheme("localhost:5000") == "http"
    assert client.scheme("[::1]:5000") == "http"
    assert client.scheme("registry.lan:5000") == "http"
    assert client.scheme("build-cache:443") == "http"
    assert client.scheme("registry.lan:5001") == "https"
    assert client.scheme("10.0.0.1:5000") == "https"
    assert client.scheme("ghcr.io") == "https"
    assert client.endpoint(ImageRef.parse("python:3")) == ("registry-1.docker.io", "library/python")


def test_without_the_registry_program_ci_fails_where_a_developer_skips(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import tests.registry_server as harness

    monkeypatch.setattr(harness, "REGISTRY_PROGRAM", str(tmp_path / "absent"))
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="CI must run the registry tests"):
        harness.require_registry()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="is not installed"):
        harness.require_registry()


# -- what a repository or a registry could turn against the user (review of issue 16) ---


@pytest.mark.parametrize(
    ("aliases", "wanted"),
    [
        # A loopback "host" to scheme(), evil.example to the URL: plain HTTP to a real host.
        ({"127.0.0.1:1@evil.example/hub": "docker.io"}, "debian:bookworm"),
        ({"localhost:80@evil.example/hub": "docker.io"}, "debian:bookworm"),
        # A path leaving /v2/ on a registry the user has credentials for.
        ({"ghcr.io/../../token?scope=x": "docker.io"}, "debian:bookworm"),
    ],
    ids=["userinfo-ip", "userinfo-localhost", "path-traversal"],
)
def test_a_repositorys_alias_naming_no_registry_is_refused_before_any_request(
    aliases: dict[str, str], wanted: str, new_client: Callable[..., RegistryClient]
) -> None:
    client = new_client(aliases=aliases, cache=False, tries=1, timeout=1)
    reference = ImageRef.parse(wanted)
    with pytest.raises(RegistryError) as refused:
        client.endpoint(reference)
    assert refused.value.code == "registry-invalid-host"
    # Through the batch too: a named answer for the image, never a request.
    answer = client.manifests([reference])[reference]
    assert isinstance(answer, RegistryError)
    assert answer.code == "registry-invalid-host"


def test_an_alias_target_naming_no_registry_is_refused(
    new_client: Callable[..., RegistryClient],
) -> None:
    # ImageRef.parse checks the registry a FROM line names, not the one an alias makes.
    reference = ImageRef.parse("acme/app:1", aliases={"acme/app": "127.0.0.1:1@evil.example/x"})
    assert reference.registry == "127.0.0.1:1@evil.example"
    client = new_client(cache=False, tries=1, timeout=1)
    with pytest.raises(RegistryError) as refused:
        client.digest(reference)
    assert refused.value.code == "registry-invalid-host"


def test_json_nested_too_deeply_is_malformed_not_a_recursion_error(
    pusher: Pusher, proxy: FaultProxy, client: RegistryClient
) -> None:
    repo = repository()
    pusher.image(repo, "1", random_layers(1))
    deep = b"[" * 200_000 + b"]" * 200_000
    proxy.add(Fault(f"/v2/{repo}/manifests/", "replace", body=deep, times=None))
    answer = client.manifests([ref(proxy.host, repo)])[ref(proxy.host, repo)]
    assert isinstance(answer, RegistryError)
    assert answer.code == "registry-malformed"
    assert "not JSON" in str(answer)
    with pytest.raises(RegistryError) as bad:
        _parse_manifest("r/x:1", "sha256:" + "0" * 64, b'{"a":' * 100_000, None)
    assert bad.value.code == "registry-malformed"


class _Redirector:
    """Two loopback servers: *front* answers every request with a redirect to
    *location* (``{back}`` replaced by the other's ``host:port``, ``{port}`` by its
    port); *back* answers
    401 with a Bearer challenge whose realm is its own ``/token``, and records
    each request's path and Authorization header."""

    def __init__(self, location: str, token: str = "t") -> None:
        self.seen: list[tuple[str, str | None]] = []
        outer = self

        class Back(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                outer.seen.append((self.path, self.headers.get("Authorization")))
                answer = {"token": token} if self.path.startswith("/token") else {}
                body = json.dumps(answer).encode()
                self.send_response(200 if self.path.startswith("/token") else 401)
                self.send_header(
                    "WWW-Authenticate",
                    f'Bearer realm="http://{outer.back}/token",service="back"',
                )
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Front(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self.send_response(307)
                self.send_header(
                    "Location",
                    location.format(back=outer.back, port=outer.back.rpartition(":")[2])
                    + self.path,
                )
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_HEAD = do_GET

        self._servers = [LoopbackServer(Back), LoopbackServer(Front)]
        self.back, self.front = (server.host for server in self._servers)

    def close(self) -> None:
        for server in self._servers:
            server.close()


@pytest.fixture
def redirector() -> Iterator[Callable[..., _Redirector]]:
    made: list[_Redirector] = []

    def make(location: str, token: str = "t") -> _Redirector:
        made.append(_Redirector(location, token))
        return made[-1]

    yield make
    for server in made:
        server.close()


def test_a_redirected_hosts_challenge_never_gets_the_first_hosts_credentials(
    redirector: Callable[..., _Redirector],
    tmp_path: Path,
    new_client: Callable[..., RegistryClient],
) -> None:
    servers = redirector("http://{back}")
    config = write_docker_config(tmp_path / "docker", basic_auths(servers.front))
    client = new_client(docker_config=config, cache=False, tries=1, timeout=5)
    with pytest.raises(RegistryError) as refused:
        client.manifest(ref(servers.front, "team/app"))
    assert refused.value.code == "registry-unauthorized"
    assert servers.seen, "the redirect was followed"
    assert not any(path.startswith("/token") for path, _ in servers.seen)
    assert all(header is None for _, header in servers.seen)
    assert_no_secret(refused.value)


def test_a_redirect_to_plain_http_off_loopback_is_refused_before_it_is_followed(
    redirector: Callable[..., _Redirector], new_client: Callable[..., RegistryClient]
) -> None:
    # IPv4 in IPv6 is not loopback to scheme() (Python 3.11): HTTPS is required there,
    # while the bytes, if sent, would still only reach this machine.
    servers = redirector("http://[::ffff:127.0.0.1]:{port}")
    client = new_client(cache=False, tries=1, timeout=5)
    with pytest.raises(RegistryError) as refused:
        client.manifest(ref(servers.front, "team/app"))
    assert refused.value.code == "registry-insecure-redirect"
    assert servers.seen == []
    ftp = redirector("ftp://{back}")
    with pytest.raises(RegistryError) as refused:
        client.manifest(ref(ftp.front, "team/app"))
    assert refused.value.code == "registry-insecure-redirect"


def test_a_registry_dripping_its_answer_is_a_timeout_bounded_by_the_whole_answer(
    new_client: Callable[..., RegistryClient],
) -> None:
    # Each byte comes well within the read timeout; the whole answer does not.
    class Drip(QuietHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", OCI_MANIFEST)
            self.send_header("Content-Length", "40")
            self.end_headers()
            try:
                for _ in range(40):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.25)
            except OSError:
                pass

    with LoopbackServer(Drip) as server:
        client = new_client(cache=False, tries=1, timeout=1)
        started = time.monotonic()
        with pytest.raises(RegistryError) as slow:
            client.manifest(ref(server.host, "team/app"))
        assert slow.value.code == "registry-timeout"
        assert time.monotonic() - started < 4


def test_a_token_that_is_no_header_value_is_refused_and_never_quoted(
    redirector: Callable[..., _Redirector], new_client: Callable[..., RegistryClient]
) -> None:
    # The HTTP library's error for such a header quotes it, Authorization included.
    servers = redirector("http://{back}", token="Zm9vYmFy\r\nX-Injected: 1")
    client = new_client(cache=False, tries=1, timeout=5)
    with pytest.raises(RegistryError) as refused:
        client.manifest(ref(servers.back, "team/app"))
    assert refused.value.code == "registry-unauthorized"
    assert "Zm9vYmFy" not in str(refused.value)
    assert "Zm9vYmFy" not in repr(refused.value)
