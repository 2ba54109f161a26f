"""A private Redis Cluster on loopback: three primaries, three replicas, one per test session.

Forming a cluster costs seconds, so one cluster serves the whole session (``redis_cluster``)
and each test gets it flushed and whole again (``cluster``): any node a test killed is
restarted (it rejoins as a replica) and every slot is served before the test starts.

The nodes are ``redis-server --cluster-enabled yes`` with AOF ``appendfsync always`` and a
short ``cluster-node-timeout``, so a killed primary's replica takes over in a few seconds.
The cluster is formed by ``redis-cli --cluster create``. Without ``redis-server`` or
``redis-cli``, or when the cluster does not form, the tests fail with the nodes' logs.

Everything here talks to the nodes through ``redis-cli``, never a Python client, so the
harness depends on no client library the backend might change.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from tests.redis.conftest import free_port, require_redis_server
from tests.redis.helpers import wait_for

NODE_TIMEOUT_MS = 1000  # how long a silent primary stays up before its replica takes over
_STARTUP_SECONDS = 30.0  # forming the cluster, a failover, a node rejoining: each within this
_SLOTS = 16384
Role = Literal["primary", "replica"]


class ClusterError(RuntimeError):
    """The cluster did not reach the state the harness waited for; says which and why."""


@dataclass
class ClusterNode:
    """One ``redis-server`` of the cluster: its ports, its data directory and its process.

    ``node_id``, ``role`` and ``primary_id`` are what the cluster said at the last
    :meth:`ClusterHandle.refresh`; a killed node keeps its last known role.
    """

    port: int
    bus_port: int
    directory: Path
    node_id: str = ""
    role: Role = "primary"
    primary_id: str | None = None  # a replica's primary, None for a primary
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        log = self.directory / "redis.log"
        text = log.read_text(errors="replace") if log.exists() else "(no log)"
        tail = "\n".join(text.splitlines()[-lines:])
        return f"--- node {self.address} ({self.role}) ---\n{tail}"


@dataclass(frozen=True)
class Failover:
    """A finished failover: the node that took over and how long the cluster took."""

    killed: ClusterNode
    promoted: ClusterNode
    seconds: float  # from the kill to every node reporting cluster_state:ok again


class ClusterHandle:
    """Starts, inspects, breaks and heals the private cluster.

    ``url`` is what the backend is given (``redis+cluster://127.0.0.1:PORT``); ``nodes``
    lists every node with its role. Killing is SIGKILL (kill -9): nothing is flushed.
    """

    def __init__(self, server: str, cli: str, directory: Path) -> None:
        self.server = server
        self.cli = cli
        self.directory = directory
        self.nodes: list[ClusterNode] = []
        self.primary_count = 0
        self._killed: dict[str, tuple[int, float]] = {}  # node id: (a slot it served, when)

    @property
    def url(self) -> str:
        """The cluster URL, naming one live node to start discovery from."""
        return f"redis+cluster://127.0.0.1:{self.entry_node().port}"

    @property
    def primaries(self) -> list[ClusterNode]:
        return [node for node in self.nodes if node.role == "primary" and node.alive]

    def entry_node(self) -> ClusterNode:
        for node in self.nodes:
            if node.alive:
                return node
        raise ClusterError("no node of the cluster is running")

    def command(self, node: ClusterNode, *args: str, script: str | None = None) -> str:
        """One command (or the lines of ``script``, on one connection) on one node through
        ``redis-cli``; the reply as text."""
        done = subprocess.run(
            [self.cli, "-h", "127.0.0.1", "-p", str(node.port), *args],
            input=script, capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise ClusterError(f"redis-cli {' '.join(args)} on {node.address}: {done.stderr}")
        return done.stdout.strip()

    def info(self, node: ClusterNode, section: str) -> dict[str, str]:
        """``CLUSTER INFO`` (section ``cluster``) or an ``INFO`` section, as a dict."""
        reply = self.command(
            node, *("cluster", "info") if section == "cluster" else ("info", section)
        )
        pairs = (line.split(":", 1) for line in reply.splitlines() if ":" in line)
        return {key.strip(): value.strip() for key, value in pairs}

    def topology(self, viewer: ClusterNode | None = None) -> list[list[str]]:
        """``CLUSTER NODES`` as seen by ``viewer`` (a live node): id, address, flags,
        primary id, ..., then the slot ranges it serves (``[...]``: being migrated)."""
        reply = self.command(viewer or self.entry_node(), "cluster", "nodes")
        return [line.split() for line in reply.splitlines()]

    def refresh(self) -> None:
        """Reads every node's id and role from ``CLUSTER NODES`` of a live node."""
        by_port = {node.port: node for node in self.nodes}
        for node_id, address, flags, primary_id, *_ in self.topology():
            node = by_port.get(int(address.split("@")[0].rsplit(":", 1)[1]))
            if node is not None:
                node.node_id = node_id
                is_primary = "master" in flags.split(",")
                node.role = "primary" if is_primary else "replica"
                node.primary_id = None if is_primary else primary_id

    def slot_for_key(self, key: str) -> int:
        return int(self.command(self.entry_node(), "cluster", "keyslot", key))

    def slot_ranges(self) -> dict[str, list[tuple[int, int]]]:
        """The slot ranges each live primary serves, by node id."""
        return {
            parts[0]: [served_range(served) for served in parts[8:] if served[0] != "["]
            for parts in self.topology()
            if "master" in parts[2].split(",") and "fail" not in parts[2]
        }

    def primary_for_slot(self, slot: int) -> ClusterNode:
        """The live primary serving ``slot`` now."""
        self.refresh()
        for node_id, ranges in self.slot_ranges().items():
            if any(low <= slot <= high for low, high in ranges):
                return self.node_by_id(node_id)
        raise ClusterError(f"no live primary serves slot {slot}")

    def primary_for_key(self, key: str) -> ClusterNode:
        """The primary that holds ``key`` (its hash tag decides the slot)."""
        return self.primary_for_slot(self.slot_for_key(key))

    def node_by_id(self, node_id: str) -> ClusterNode:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise ClusterError(f"node {node_id} is not one of this harness's nodes")

    def replica_of(self, primary: ClusterNode) -> ClusterNode:
        self.refresh()
        for node in self.nodes:
            if node.primary_id == primary.node_id and node.alive:
                return node
        raise ClusterError(f"{primary.address} has no live replica")

    def log_tail(self) -> str:
        return "\n".join(node.log_tail() for node in self.nodes)

    def start(self, primaries: int = 3, replicas_per_primary: int = 1) -> None:
        """Starts the nodes and forms the cluster; raises :class:`ClusterError` if it cannot."""
        self.primary_count = primaries
        for index in range(primaries * (1 + replicas_per_primary)):
            directory = self.directory / f"node-{index}"
            directory.mkdir(parents=True)
            self.nodes.append(self.launch_on_free_ports(directory))
        create = subprocess.run(
            [
                self.cli, "--cluster", "create",
                *(node.address for node in self.nodes),
                "--cluster-replicas", str(replicas_per_primary),
                "--cluster-yes",
            ],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if create.returncode != 0:
            raise ClusterError(
                f"redis-cli --cluster create failed:\n{create.stdout}\n{create.stderr}"
            )
        self.wait_until_whole()

    def launch_on_free_ports(self, directory: Path, attempts: int = 3) -> ClusterNode:
        """A new node on ports that were free a moment ago; new ones if another process
        took them in between (the node then exits at once, saying so in its log)."""
        for attempt in range(attempts):
            node = ClusterNode(port=free_port(), bus_port=free_port(), directory=directory)
            try:
                self.launch(node)
                return node
            except ClusterError:
                if node.alive or attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def launch(self, node: ClusterNode) -> None:
        """Starts ``node`` (again after a kill: same ports, same data); waits for PING."""
        args = [
            self.server,
            "--port", str(node.port),
            # the bus port is chosen too, not port+10000, which may be taken or past 65535
            "--cluster-port", str(node.bus_port),
            "--bind", "127.0.0.1",
            "--dir", str(node.directory),
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
            "--save", "",
            # appendfsync always: what a node acknowledged is on its disk before a kill -9,
            # so a lost write can only be one that never reached the replica in time.
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--logfile", "redis.log",
        ]  # fmt: skip
        node.process = subprocess.Popen(args, cwd=node.directory)
        self.wait_for(lambda: self.pings(node), f"{node.address} to answer PING", node)

    def pings(self, node: ClusterNode) -> bool:
        if not node.alive:
            raise ClusterError(f"{node.address} exited:\n{node.log_tail()}")
        try:
            return self.command(node, "ping") == "PONG"
        except ClusterError:
            return False

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.alive:
                node.process.kill()
                node.process.wait(timeout=10)

    def wait_for(
        self, condition: Callable[[], bool], what: str, node: ClusterNode | None = None
    ) -> float:
        """:func:`~tests.redis.helpers.wait_for` with the nodes' logs added when it gives up;
        returns the seconds it took."""
        started = time.monotonic()
        try:
            wait_for(condition, what, timeout=_STARTUP_SECONDS)
        except pytest.fail.Exception as gave_up:
            logs = node.log_tail() if node is not None else self.log_tail()
            raise ClusterError(f"{gave_up}\n{logs}") from None
        return time.monotonic() - started

    def whole(self) -> bool:
        """Every node runs, knows every other one, and sees all slots served."""
        return all(node.alive for node in self.nodes) and self.serving(len(self.nodes))

    def serving(self, known_nodes: int | None = None) -> bool:
        """Every live node says cluster_state:ok with all slots served (and knows so many)."""
        for node in self.nodes:
            if not node.alive:
                continue
            try:
                info = self.info(node, "cluster")
            except ClusterError:
                return False
            if info.get("cluster_state") != "ok" or info.get("cluster_slots_ok") != str(_SLOTS):
                return False
            if known_nodes is not None and info.get("cluster_known_nodes") != str(known_nodes):
                return False
        return True

    def replicas_synced(self) -> bool:
        """Each node sees itself as the cluster does: ``primary_count`` primaries, and every
        other node a replica whose link to its primary is up and synced (so WAIT counts it).

        A restarted primary first comes up as a primary of its old slots and only turns
        replica when the cluster tells it, so its own ``INFO`` is what is asked.
        """
        roles = [self.info(node, "replication") for node in self.nodes]
        if sum(info.get("role") == "master" for info in roles) != self.primary_count:
            return False
        if any("fail" in parts[2] for node in self.nodes for parts in self.topology(node)):
            return False
        return all(
            info.get("master_link_status") == "up" and info.get("master_sync_in_progress") == "0"
            for info in roles
            if info.get("role") == "slave"
        )

    def wait_until_whole(self) -> float:
        seconds = self.wait_for(self.whole, "every node to report cluster_state:ok")
        seconds += self.wait_for(self.replicas_synced, "every replica to sync its primary")
        self.refresh()
        return seconds

    def kill_primary(self, key_or_node: str | ClusterNode) -> ClusterNode:
        """SIGKILLs the primary holding the key (or the node given); returns it."""
        node = (
            key_or_node
            if isinstance(key_or_node, ClusterNode)
            else self.primary_for_key(key_or_node)
        )
        self.refresh()
        if node.role != "primary" or not node.alive:
            raise ClusterError(f"{node.address} is not a live primary ({node.role})")
        first_slot = self.slot_ranges()[node.node_id][0][0]
        self._killed[node.node_id] = (first_slot, time.monotonic())
        assert node.process is not None
        node.process.send_signal(signal.SIGKILL)
        node.process.wait(timeout=10)
        return node

    def wait_for_failover(self, killed: ClusterNode) -> Failover:
        """Waits until a replica of ``killed`` serves its slots and every live node says ok."""
        slot, killed_at = self._killed[killed.node_id]

        promoted: list[ClusterNode] = []

        def taken_over() -> bool:
            try:  # nodes learn of the failover one by one: "nobody serves it" is "not yet"
                holder = self.primary_for_slot(slot)
            except ClusterError:
                return False
            promoted[:] = [holder]
            return holder is not killed and self.serving()

        self.wait_for(taken_over, f"a replica of {killed.address} to take over")
        seconds = time.monotonic() - killed_at
        return Failover(killed=killed, promoted=promoted[0], seconds=seconds)

    def cut_replication(self, primary: ClusterNode) -> ClusterNode:
        """Stops ``primary``'s replica from receiving its writes; returns the replica.

        The replica keeps its place (it still takes over when ``primary`` dies) but cannot
        reconnect: it is given a wrong ``masterauth``. Every write ``primary`` acknowledges
        from now on exists on ``primary`` only, which is what an unlucky kill -9 looks like.
        :meth:`heal` undoes it.
        """
        replica = self.replica_of(primary)
        self.command(replica, "config", "set", "masterauth", "wrong-on-purpose")
        self.command(primary, "client", "kill", "type", "replica")
        self.wait_for(
            lambda: self.info(replica, "replication").get("master_link_status") == "down",
            f"{replica.address} to lose its link to {primary.address}",
        )
        return replica

    def restart(self, node: ClusterNode) -> None:
        """Starts a killed node again; it rejoins as a replica of whoever took its slots."""
        if node.alive:
            raise ClusterError(f"{node.address} is running; kill it first")
        self.launch(node)
        self.wait_until_whole()

    def heal(self) -> None:
        """Restarts every killed node and waits until the cluster is whole and synced."""
        for node in self.nodes:
            if not node.alive:
                self.launch(node)
            else:
                self.command(node, "config", "set", "masterauth", "")  # undo cut_replication
        self.wait_until_whole()

    def flush(self) -> None:
        """Empties every primary (replicas follow) and waits until replicas caught up."""
        for node in self.primaries:
            # one connection for both: WAIT counts the replicas that have this client's writes
            reply = self.command(node, script="FLUSHALL\nWAIT 1 5000\n")
            if reply.split() != ["OK", "1"]:
                raise ClusterError(f"FLUSHALL on {node.address} did not reach its replica: {reply}")


def served_range(served: str) -> tuple[int, int]:
    """``"0-5460"`` or ``"42"`` from ``CLUSTER NODES`` as (first, last) slot."""
    low, _, high = served.partition("-")
    return int(low), int(high or low)


def require_redis_cli() -> str:
    """The ``redis-cli`` beside ``redis-server`` (or on PATH); fails the test without one."""
    server = require_redis_server()
    beside = Path(server).with_name("redis-cli")
    if os.access(beside, os.X_OK):
        return str(beside)
    on_path = shutil.which("redis-cli")
    if on_path is None:
        pytest.fail(
            "No redis-cli: the Redis Cluster tests form their cluster with "
            "`redis-cli --cluster create`. Install redis-tools (apt-get install redis-server "
            "brings both), as .ci/run does.",
            pytrace=False,
        )
    return on_path


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterHandle]:
    """One private three-primary, three-replica cluster for the whole session."""
    handle = ClusterHandle(
        require_redis_server(), require_redis_cli(), tmp_path_factory.mktemp("redis-cluster")
    )
    try:
        try:
            handle.start()
        except (ClusterError, OSError, subprocess.SubprocessError) as error:
            pytest.fail(
                f"The Redis Cluster did not form: {error}\n{handle.log_tail()}", pytrace=False
            )
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def cluster(redis_cluster: ClusterHandle) -> ClusterHandle:
    """The session's cluster, whole again (killed nodes restarted) and empty, for one test."""
    try:
        redis_cluster.heal()
        redis_cluster.flush()
    except ClusterError as error:
        pytest.fail(f"The Redis Cluster could not be healed: {error}", pytrace=False)
    return redis_cluster
