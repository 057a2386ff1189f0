"""``[redis] url``: one node or a cluster; ``shards`` and the durability settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.asyncio import Redis, RedisCluster

from payments.config import AUTO_REPLICAS, ConfigError, load_config
from payments.keys import DEFAULT_SHARDS
from payments.store.connection import (
    BadRedisUrl,
    ClusterUrl,
    is_cluster_url,
    open_redis,
    parse_cluster_url,
)
from tests.core.test_config import GOOD, write


def test_a_cluster_url_names_its_nodes_credentials_and_tls() -> None:
    assert parse_cluster_url("redis+cluster://10.0.0.1:7000,10.0.0.2:7001") == ClusterUrl(
        (("10.0.0.1", 7000), ("10.0.0.2", 7001))
    )
    found = parse_cluster_url("rediss+cluster://bot:s%40cret@[::1]:7000/")
    assert found == ClusterUrl((("::1", 7000),), "bot", "s@cret", tls=True)
    assert "s@cret" not in repr(found)
    assert parse_cluster_url("redis+cluster://:pw@h:1").password == "pw"


@pytest.mark.parametrize(
    "url",
    [
        "redis+cluster://",
        "redis+cluster://host",
        "redis+cluster://host:port",
        "redis+cluster://host:70000",
        "redis+cluster://host:7000/3",
        "redis+cluster://host:7000?db=2",
        "redis://host:7000",
    ],
)
def test_a_bad_cluster_url_is_refused_with_what_is_expected(url: str) -> None:
    with pytest.raises(BadRedisUrl):
        parse_cluster_url(url)


async def test_open_redis_builds_the_client_the_url_names() -> None:
    single = open_redis("redis://127.0.0.1:1/0")
    cluster = open_redis("redis+cluster://127.0.0.1:1,127.0.0.1:2")
    try:
        assert isinstance(single, Redis) and not is_cluster_url("redis://127.0.0.1:1/0")
        assert isinstance(cluster, RedisCluster)  # nothing is connected until a command
    finally:
        await single.aclose()
        await cluster.aclose()


def test_the_redis_section_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), env={}).redis
    assert (config.shards, config.wait_replicas) == (DEFAULT_SHARDS, AUTO_REPLICAS)
    assert config.wait_timeout_ms == 1000


def test_the_redis_section_reads_a_cluster(tmp_path: Path) -> None:
    text = GOOD.replace(
        'url = "redis://127.0.0.1:6379/0"',
        'url = "redis+cluster://10.0.0.1:7000,10.0.0.2:7000"\nshards = 64\nwait_replicas = 2',
    )
    config = load_config(write(tmp_path, text), env={}).redis
    assert (config.url, config.shards, config.wait_replicas) == (
        "redis+cluster://10.0.0.1:7000,10.0.0.2:7000",
        64,
        2,
    )


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ('url = "http://127.0.0.1:6379"', "[redis] url: expected redis://host:port/db or"),
        ("shards = 0", "[redis] shards: expected 1 to 1024"),
        ("shards = 5000", "[redis] shards: expected 1 to 1024"),
        ("wait_replicas = -1", "[redis] wait_replicas: expected a number >= 0"),
        ('wait_timeout_ms = "1s"', "[redis] wait_timeout_ms: expected an integer"),
    ],
)
def test_a_bad_redis_section_names_the_key(tmp_path: Path, line: str, error: str) -> None:
    text = GOOD.replace('url = "redis://127.0.0.1:6379/0"', line)
    with pytest.raises(ConfigError) as refused:
        load_config(write(tmp_path, text), env={})
    assert str(refused.value).startswith(error)
