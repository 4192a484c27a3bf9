"""Shared test setup: every test gets its own parse cache directory."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_parse_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # scan() caches by default; tests must neither read a developer's cache nor leave one.
    monkeypatch.setenv("IMAGEGRAPH_CACHE_DIR", str(tmp_path_factory.mktemp("parse-cache")))
