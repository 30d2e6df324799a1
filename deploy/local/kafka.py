"""The local Kafka in KRaft mode: one node (`.local/kafka`), or a cluster of three (`.local/kafka-3`).

Each node is one JVM, broker and controller at once (combined mode: three JVMs rather than six on a
small machine, and a controller failover is then also a broker failover, the harder case). Node n
(from 1) listens on `port + 2(n-1)` for clients and the next port for the controller quorum. The
broker's jars come from Maven Central through deploy/local/kafka/pom.xml and are cached outside the
tree (deploy/local/kafka_jars.py).
"""

import base64
import concurrent.futures
import os
import re
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from deploy.local.base import (
    LOGS_DIR,
    STATE_DIR,
    StackError,
    check_listen_port,
    is_our_process,
    log_size,
    log_tail,
    pid_alive,
    port_open,
    read_pid,
    run_sync,
    say,
    spawn_detached,
    wait_exit,
)
from deploy.local.kafka_jars import jars, java
from shared.services import LOCAL_KAFKA_BOOTSTRAP, LOCAL_KAFKA_PORT
from shared.topics import min_insync_replicas

KAFKA_DIR: Final = STATE_DIR / "kafka"
HEAP: Final = "512m"
JVM_OPTIONS: Final = (f"-Xms{HEAP}", f"-Xmx{HEAP}")
# A cluster's three JVMs share a small machine's cores: C1 only and the serial collector spend less CPU
# starting and idling, and a local cluster's load never needs C2's peak throughput.
CLUSTER_JVM_OPTIONS: Final = ("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
READY_TIMEOUT_S: Final = 90.0
STOP_TIMEOUT_S: Final = 20.0
# The node counts the launcher runs: one, or the smallest cluster that survives losing a node with
# `min.insync.replicas=2`.
BROKER_COUNTS: Final = (1, 3)
BROKERS_VARIABLE: Final = "LOCAL_KAFKA_BROKERS"
BROKERS_FILE: Final = STATE_DIR / "kafka.brokers"

# The broker is chatty at INFO; warnings and errors are what a developer needs in kafka.log.
LOG4J_CONFIG: Final = """\
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
"""


def _cluster_id() -> str:
    """A random cluster id in Kafka's form (base64url of 16 bytes); Kafka avoids a leading '-'."""
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not candidate.startswith("-"):
            return candidate


async def answers(bootstrap: str = LOCAL_KAFKA_BOOTSTRAP, timeout_ms: int = 3000, brokers: int = 1) -> bool:
    """Whether a broker at `bootstrap` answers a metadata request listing at least `brokers` brokers."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="deploy.local", request_timeout_ms=timeout_ms)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        return len(cluster["brokers"]) >= brokers
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        await admin.close()


@dataclass(frozen=True, slots=True)
class KafkaNode:
    """One node of a cluster: its ports, files and process."""

    cluster: "KafkaCluster"
    node_id: int

    @property
    def port(self) -> int:
        return self.cluster.port + 2 * (self.node_id - 1)

    @property
    def controller_port(self) -> int:
        return self.port + 1

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def directory(self) -> Path:
        single = self.cluster.brokers == 1
        return self.cluster.directory if single else self.cluster.directory / f"node-{self.node_id}"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def server_properties(self) -> Path:
        return self.directory / "server.properties"

    @property
    def pid_file(self) -> Path:
        return self.directory / "kafka.pid"

    @property
    def log_file(self) -> Path:
        name = self.cluster.directory.name
        return LOGS_DIR / (f"{name}.log" if self.cluster.brokers == 1 else f"{name}-{self.node_id}.log")

    def config(self) -> str:
        cluster = self.cluster
        if cluster.brokers == 1:  # a dynamic quorum of one (formatted --standalone)
            quorum = f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}"
        else:  # a static quorum of every node
            voters = ",".join(f"{node.node_id}@127.0.0.1:{node.controller_port}" for node in cluster.nodes)
            quorum = f"controller.quorum.voters={voters}"
        replicas, insync = cluster.brokers, min_insync_replicas(cluster.brokers)
        return f"""\
# Written by deploy/local on every start; edit deploy/local/kafka.py instead.
process.roles=broker,controller
node.id={self.node_id}
{quorum}
listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={self.data_dir}
offsets.topic.replication.factor={replicas}
transaction.state.log.replication.factor={replicas}
transaction.state.log.min.isr={insync}
default.replication.factor={replicas}
min.insync.replicas={insync}
group.initial.rebalance.delay.ms=0
num.partitions=12
# Topics are created by deploy.provision with their settings; a typo must not create a topic.
auto.create.topics.enable=false
# After a crash the controller fences the dead incarnation only when its session expires: 3 s
# instead of 9 s moves its partitions' leadership (or lets a restarted broker register) sooner.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=3000
"""

    def configure(self, classpath: str, cluster_id: str) -> None:
        """Write the configuration, and format the log dir on first use."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.server_properties.write_text(self.config())
        if (self.data_dir / "meta.properties").exists():
            return
        standalone = ["--standalone"] if self.cluster.brokers == 1 else []
        result = subprocess.run(
            [java(), "-cp", classpath, f"-Dlog4j2.configurationFile={self.cluster.log4j_properties}",
             "kafka.tools.StorageTool", "format", *standalone, "-t", cluster_id, "-c", str(self.server_properties)],
            check=False,
            stdin=subprocess.DEVNULL,
            capture_output=True,
        )  # fmt: skip
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode(errors="replace").strip()
            raise StackError(f"formatting the Kafka log dir of node {self.node_id} failed:\n{output}")
        say(f"kafka: formatted a KRaft log dir in {self.data_dir}")

    def running_pid(self) -> int | None:
        """The node's pid if the JVM this launcher started runs."""
        pid = read_pid(self.pid_file)
        return pid if pid is not None and is_our_process(pid, str(self.server_properties)) else None

    def spawn(self, classpath: str, cluster_id: str) -> int:
        """Start the JVM in its own session (it outlives the launcher); its pid. Does not wait."""
        for port in (self.port, self.controller_port):
            check_listen_port(port, "LOCAL_KAFKA_PORT")
            if port_open(port):
                raise StackError(
                    f"127.0.0.1:{port} is taken by a process this launcher did not start; "
                    "stop it, or set KAFKA_BOOTSTRAP_SERVERS to use that broker"
                )
        self.configure(classpath, cluster_id)
        pid = spawn_detached(
            [java(), *JVM_OPTIONS, *(CLUSTER_JVM_OPTIONS if self.cluster.brokers > 1 else ()),
             f"-XX:ErrorFile={LOGS_DIR}/kafka-hs_err_%p.log",
             f"-Dlog4j2.configurationFile={self.cluster.log4j_properties}", "-cp", classpath,
             "kafka.Kafka", str(self.server_properties)],
            self.log_file,
        )  # fmt: skip
        self.pid_file.write_text(f"{pid}\n")
        return pid

    def wait_ready(self, pid: int, since: int) -> None:
        """Wait until the node answers and sees every broker of its cluster."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if not pid_alive(pid):
                self.pid_file.unlink(missing_ok=True)
                raise StackError(
                    f"kafka node {self.node_id} exited during start-up; {self.log_file}:\n"
                    f"{log_tail(self.log_file, since)}"
                )
            # The cheap port check first keeps aiokafka from logging refused connections.
            if port_open(self.port) and run_sync(answers(self.bootstrap, brokers=self.cluster.brokers)):
                return
            if time.monotonic() > deadline:
                self.kill()
                raise StackError(
                    f"kafka node {self.node_id} did not answer within {READY_TIMEOUT_S:.0f} s; {self.log_file}:\n"
                    f"{log_tail(self.log_file, since)}"
                )
            time.sleep(0.3)

    def _wait_released(self, pid: int) -> None:
        """Wait until the JVM is gone and its ports are free, so a new one can bind them at once.

        A killed JVM's main thread shows as exited while its other threads still hold the sockets.
        """
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while pid_alive(pid) or port_open(self.port) or port_open(self.controller_port):
            if time.monotonic() > deadline:
                raise StackError(f"kafka (pid {pid}) still holds its ports {STOP_TIMEOUT_S:.0f} s after stopping")
            time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)

    def signal(self, signum: signal.Signals) -> int | None:
        """Send `signum` to the running node; its pid, or None if it was not running."""
        pid = self.running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return None
        os.kill(pid, signum)
        return pid

    def stopped(self, pid: int) -> None:
        """After a SIGTERM: SIGKILL if the clean shutdown takes too long, then wait until released."""
        if not wait_exit(pid, STOP_TIMEOUT_S):
            say(f"kafka: node {self.node_id} did not exit {STOP_TIMEOUT_S:.0f} s after SIGTERM; sending SIGKILL")
            os.kill(pid, signal.SIGKILL)
        self._wait_released(pid)

    def kill(self) -> bool:
        """SIGKILL, as a crash would; whether it was running."""
        pid = self.signal(signal.SIGKILL)
        if pid is not None:
            self._wait_released(pid)
        return pid is not None

    def start(self) -> None:
        """Start this node again (its log dir is formatted) and wait until it answers."""
        since = log_size(self.log_file)
        self.wait_ready(self.spawn(f"{jars()}/*", self.cluster.cluster_id()), since)


@dataclass(frozen=True, slots=True)
class KafkaCluster:
    """`brokers` nodes on ports from `port`, their files under `directory`."""

    port: int
    directory: Path
    brokers: int = 1

    @property
    def nodes(self) -> tuple[KafkaNode, ...]:
        return tuple(KafkaNode(self, node_id) for node_id in range(1, self.brokers + 1))

    def node(self, node_id: int) -> KafkaNode:
        return self.nodes[node_id - 1]

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def log4j_properties(self) -> Path:
        return self.directory / "log4j2.properties"

    def running_pids(self) -> dict[int, int]:
        """The running nodes' pids by node id."""
        return {node.node_id: pid for node in self.nodes if (pid := node.running_pid()) is not None}

    def cluster_id(self) -> str:
        """The id every node is formatted with: the one on disk if a node has been formatted."""
        for node in self.nodes:
            meta = node.data_dir / "meta.properties"
            if meta.exists() and (match := re.search(r"^cluster\.id=(\S+)$", meta.read_text(), re.MULTILINE)):
                return match.group(1)
        return _cluster_id()

    def start(self) -> None:
        """Start every node that is not running, then wait until each answers and sees all brokers."""
        classpath = f"{jars()}/*"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.log4j_properties.write_text(LOG4J_CONFIG)
        cluster_id = self.cluster_id()
        running = self.running_pids()
        stopped = [node for node in self.nodes if node.node_id not in running]
        # Formatting is a JVM start of its own: the nodes' at once.
        with concurrent.futures.ThreadPoolExecutor(self.brokers) as pool:
            list(pool.map(lambda node: node.configure(classpath, cluster_id), stopped))
        # All spawned before any is waited for: a controller quorum elects a leader only with a majority.
        spawned = {node: (log_size(node.log_file), node.spawn(classpath, cluster_id)) for node in stopped}
        for node, (since, pid) in spawned.items():
            node.wait_ready(pid, since)

    def ensure_running(self) -> None:
        pids = self.running_pids()
        if len(pids) == self.brokers:
            say(f"kafka: already running (pids {_pids(pids)}) on {self.bootstrap}")
            return
        started = time.monotonic()
        self.start()
        took = time.monotonic() - started
        say(f"kafka: started (pids {_pids(self.running_pids())}) on {self.bootstrap} in {took:.1f} s")

    def stop(self) -> bool:
        """SIGTERM every node (a clean shutdown), SIGKILL any that takes too long; whether any ran."""
        signalled = {node: pid for node in self.nodes if (pid := node.signal(signal.SIGTERM)) is not None}
        for node, pid in signalled.items():
            node.stopped(pid)
        return bool(signalled)

    def kill(self) -> bool:
        """SIGKILL every node, as a crash would; whether any ran."""
        return any([node.kill() for node in self.nodes])

    async def answers(self) -> bool:
        return await answers(self.bootstrap, brokers=self.brokers)


def _pids(pids: dict[int, int]) -> str:
    return ", ".join(str(pid) for pid in pids.values())


def local(brokers: int | None = None) -> KafkaCluster:
    """The local stack's Kafka of `brokers` nodes, on LOCAL_KAFKA_PORT and the ports after it; by
    default LOCAL_KAFKA_BROKERS, else as many as the last `up --brokers` asked for, else one."""
    if brokers is None:
        chosen = os.environ.get(BROKERS_VARIABLE) or (
            BROKERS_FILE.read_text().strip() if BROKERS_FILE.exists() else "1"
        )
        brokers = int(chosen) if chosen.isascii() and chosen.isdigit() else 0
    if brokers not in BROKER_COUNTS:
        raise StackError(f"the local Kafka runs {' or '.join(map(str, BROKER_COUNTS))} brokers, not {brokers}")
    return KafkaCluster(LOCAL_KAFKA_PORT, KAFKA_DIR if brokers == 1 else STATE_DIR / f"kafka-{brokers}", brokers)


def remember(cluster: KafkaCluster) -> None:
    """Make `cluster`'s size the default of the commands after this one (kafka-stop, status, tests)."""
    BROKERS_FILE.write_text(f"{cluster.brokers}\n")


def running_pid() -> int | None:
    """The local Kafka's first node's pid, if it runs."""
    return local().node(1).running_pid()
