"""The local stack's Redis: one redis-server, or a Redis Cluster of six.

A cluster is three masters and three replicas (one each), every node a real
``redis-server`` on a free loopback port with AOF on, joined with
``redis-cli --cluster create ... --cluster-replicas 1``. It is ready when every
node says ``cluster_state:ok`` and every replica's link to its master is up:
before that a write may land on a master whose replica is not yet listening,
and ``WAIT`` would time out.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from accountbot.processes import Child, StackError, free_port, talk, wait_until

CLUSTER_MASTERS: Final = 3
# Long enough that a node starved of CPU on a busy machine is not voted out, short
# enough that a killed master's replica takes over within seconds.
CLUSTER_NODE_TIMEOUT_MS: Final = 3000
# An account's ledger is a small stream: one node of up to 16 KiB holds a year of it
# (Redis' default closes a node at 4 KiB and preallocates the next: twice the memory).
# docs/operations.md, "Sizing and scale figures", recommends the same in production.
MEMORY_SETTINGS: Final = "stream-node-max-bytes 16384\n"


@dataclass
class RedisServer:
    root: Path
    persistent: bool = False  # AOF for the demo; nothing on disk for tests
    port: int = field(default_factory=free_port)
    name: str = "redis"
    settings: str = ""  # more redis.conf lines (a cluster node's)
    child: Child | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def children(self) -> list[Child]:
        return [self.child] if self.child is not None else []

    def start(self, *, detached: bool = False) -> None:
        self.launch(detached=detached)
        self.wait_ready()

    def launch(self, *, detached: bool = False) -> None:
        """Start the process without waiting for it (a cluster starts its nodes together)."""
        data = self.root / self.name
        data.mkdir(parents=True, exist_ok=True)
        conf = self.root / f"{self.name}.conf"
        persistence = (
            'appendonly yes\nappendfsync everysec\nsave ""\n'
            if self.persistent
            else 'appendonly no\nsave ""\n'
        )
        conf.write_text(
            f"bind 127.0.0.1\nport {self.port}\nprotected-mode yes\ndaemonize no\n"
            f"dir {data}\n{persistence}{MEMORY_SETTINGS}{self.settings}"
        )
        log = self.root / f"{self.name}.log"
        self.child = Child(self.name, ["redis-server", str(conf)], log, detached)
        self.child.start()

    def wait_ready(self) -> None:
        assert self.child is not None
        wait_until(lambda: talk(self.port, b"PING\r\n", b"+PONG"), self.name, self.child)

    def info(self, section: str) -> str:
        return ask(self.port, "INFO", section)

    def info_cluster(self) -> str:
        return ask(self.port, "CLUSTER", "INFO")

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()


@dataclass
class LocalCluster:
    """Three masters and their three replicas, AOF on, on loopback: ``dev up --cluster``."""

    root: Path
    nodes: list[RedisServer] = field(init=False)

    def __post_init__(self) -> None:
        settings = (
            "cluster-enabled yes\ncluster-config-file nodes.conf\n"
            f"cluster-node-timeout {CLUSTER_NODE_TIMEOUT_MS}\n"
            # A replica takes over however long its master was gone (tests kill masters).
            "cluster-replica-validity-factor 0\n"
        )
        # The cluster bus listens on its own free port (by default it is the port + 10000,
        # which a free port above 55535 cannot have).
        self.nodes = [
            RedisServer(
                self.root,
                persistent=True,
                name=f"redis-node{i}",
                settings=f"{settings}cluster-port {free_port()}\n",
            )
            for i in range(2 * CLUSTER_MASTERS)
        ]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(node.address for node in self.nodes)

    @property
    def children(self) -> list[Child]:
        return [child for node in self.nodes for child in node.children]

    def start(self, *, detached: bool = False) -> None:
        for node in self.nodes:
            node.launch(detached=detached)
        for node in self.nodes:
            node.wait_ready()
        if "cluster_known_nodes:1\r\n" in self.nodes[0].info_cluster():
            self._create()
        self.wait_healthy()

    def _create(self) -> None:
        addresses = [node.address for node in self.nodes]
        command = ["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", "1"]
        done = subprocess.run(
            [*command, "--cluster-yes"], capture_output=True, text=True, timeout=60, check=False
        )
        if done.returncode != 0:
            raise StackError(f"redis-cli --cluster create failed:\n{done.stdout}{done.stderr}")

    def wait_healthy(self, replicas: int = CLUSTER_MASTERS, timeout: float = 60.0) -> None:
        """Every live node sees every slot served and ``replicas`` replicas (its view of the
        cluster is what a client discovers from it), and every replica is in sync."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self._healthy(node, replicas) for node in self.live_nodes()):
                return
            time.sleep(0.1)
        raise StackError("the local Redis Cluster did not become healthy:\n" + self.describe())

    def live_nodes(self) -> list[RedisServer]:
        return [node for node in self.nodes if node.child is not None and node.child.alive()]

    def _healthy(self, node: RedisServer, replicas: int) -> bool:
        try:
            cluster, replication = node.info_cluster(), node.info("replication")
            nodes = ask(node.port, "CLUSTER", "NODES").splitlines()
        except (OSError, StackError):
            return False
        if "cluster_state:ok" not in cluster or "cluster_slots_ok:16384" not in cluster:
            return False
        following = [line for line in nodes if "slave" in line and "fail" not in line]
        if len(following) < replicas:
            return False
        return "role:master" in replication or "master_link_status:up" in replication

    def revive(self, node: RedisServer) -> None:
        """Start a node that died again, with its data: it rejoins as a replica of the
        master that took its place."""
        node.launch(detached=False)
        node.wait_ready()
        self.wait_healthy()

    def masters(self) -> list[RedisServer]:
        return [node for node in self.live_nodes() if "role:master" in node.info("replication")]

    def node(self, port: int) -> RedisServer:
        return next(node for node in self.nodes if node.port == port)

    def replica_of(self, master: RedisServer) -> RedisServer:
        """The live replica that follows ``master`` now (roles change with failovers)."""
        for node in self.live_nodes():
            if f"master_port:{master.port}\r\n" in node.info("replication"):
                return node
        raise StackError(f"no live replica of {master.name}:\n{self.describe()}")

    def describe(self) -> str:
        lines = []
        for node in self.nodes:
            state = "running" if node in self.live_nodes() else "stopped"
            lines.append(f"{node.name} {node.address} {state}")
        return "\n".join(lines)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def ask(port: int, *command: str, timeout: float = 5.0) -> str:
    """One command to a local node over RESP; its reply (a bulk or simple string) as text."""
    wire = f"*{len(command)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in command)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(wire.encode())
        reply = b""
        while not _complete(reply):
            chunk = sock.recv(65536)
            if not chunk:
                raise StackError(f"node {port} closed the connection")
            reply += chunk
    head, _, body = reply.partition(b"\r\n")
    if head.startswith(b"-"):
        raise StackError(f"node {port}: {head[1:].decode()}")
    return (body[: int(head[1:])] if head.startswith(b"$") else head[1:]).decode()


def _complete(reply: bytes) -> bool:
    head, found, body = reply.partition(b"\r\n")
    if not found:
        return False
    if head.startswith(b"$"):
        return len(body) >= max(int(head[1:]), 0) + 2
    return True
