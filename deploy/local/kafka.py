"""The local single-node Kafka (KRaft, broker and controller in one JVM) in .local/kafka.

The broker's jars come from Maven Central through deploy/local/kafka/pom.xml and are cached outside
the tree, keyed by the pom's hash, so a changed pom fetches again and an unchanged one never does.
"""

import base64
import hashlib
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Final

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from deploy.local.base import (
    LOGS_DIR,
    STATE_DIR,
    StackError,
    cache_root,
    check_listen_port,
    is_our_process,
    log_size,
    log_tail,
    pid_alive,
    port_open,
    read_pid,
    require_tool,
    run_sync,
    say,
    spawn_detached,
    wait_exit,
)
from shared.services import LOCAL_KAFKA_BOOTSTRAP, LOCAL_KAFKA_PORT

POM: Final = Path(__file__).resolve().parent / "kafka" / "pom.xml"
KAFKA_DIR: Final = STATE_DIR / "kafka"
DATA_DIR: Final = KAFKA_DIR / "data"
SERVER_PROPERTIES: Final = KAFKA_DIR / "server.properties"
LOG4J_PROPERTIES: Final = KAFKA_DIR / "log4j2.properties"
PID_FILE: Final = KAFKA_DIR / "kafka.pid"
LOG_FILE: Final = LOGS_DIR / "kafka.log"
CONTROLLER_PORT: Final = LOCAL_KAFKA_PORT + 1
HEAP: Final = "512m"
READY_TIMEOUT_S: Final = 60.0
STOP_TIMEOUT_S: Final = 20.0
JAVA_HINT: Final = "apt-get install -y openjdk-17-jre-headless"

SERVER_CONFIG: Final = f"""\
# Written by deploy/local on every start; edit deploy/local/kafka.py instead.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{CONTROLLER_PORT}
listeners=PLAINTEXT://127.0.0.1:{LOCAL_KAFKA_PORT},CONTROLLER://127.0.0.1:{CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://127.0.0.1:{LOCAL_KAFKA_PORT}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={DATA_DIR}
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
num.partitions=12
# Topics are created by deploy.provision with their settings; a typo must not create a topic.
auto.create.topics.enable=false
# After a crash (kafka_kill) the controller fences the dead incarnation only when its session expires:
# 3 s instead of 9 s lets a restarted broker register sooner.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=3000
"""

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


def jars() -> Path:
    """The directory of the broker's jars, fetched with Maven unless cached for this pom."""
    pom = POM.read_bytes()
    match = re.search(rb"<kafka.version>([^<]+)</kafka.version>", pom)
    version = match.group(1).decode() if match else "unknown"
    digest = hashlib.sha256(pom).hexdigest()
    target = cache_root() / f"kafka-{version}"
    stamp = target / ".pom-sha256"
    if stamp.exists() and stamp.read_text() == digest:
        return target

    mvn = require_tool("mvn", "apt-get install -y maven")
    say(f"kafka: fetching the Kafka {version} broker jars with Maven into {target}")
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")  # complete or absent
    shutil.rmtree(partial, ignore_errors=True)
    result = subprocess.run(
        [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies", "-DincludeScope=runtime",
         f"-DoutputDirectory={partial}"],
        check=False,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )  # fmt: skip
    if result.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        output = (result.stdout + result.stderr).decode(errors="replace").strip().splitlines()[-20:]
        raise StackError("fetching the Kafka jars with Maven failed:\n" + "\n".join(output))
    (partial / stamp.name).write_text(digest)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def _java() -> str:
    return require_tool("java", JAVA_HINT)


def _cluster_id() -> str:
    """A random cluster id in Kafka's form (base64url of 16 bytes); Kafka avoids a leading '-'."""
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not candidate.startswith("-"):
            return candidate


def _configure(classpath: str) -> None:
    """Write the configuration, and format the log dir on first use."""
    KAFKA_DIR.mkdir(parents=True, exist_ok=True)
    SERVER_PROPERTIES.write_text(SERVER_CONFIG)
    LOG4J_PROPERTIES.write_text(LOG4J_CONFIG)
    if (DATA_DIR / "meta.properties").exists():
        return
    result = subprocess.run(
        [_java(), "-cp", classpath, f"-Dlog4j2.configurationFile={LOG4J_PROPERTIES}",
         "kafka.tools.StorageTool", "format", "--standalone", "-t", _cluster_id(),
         "-c", str(SERVER_PROPERTIES)],
        check=False,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )  # fmt: skip
    if result.returncode != 0:
        output = (result.stdout + result.stderr).decode(errors="replace").strip()
        raise StackError(f"formatting the Kafka log dir failed:\n{output}")
    say(f"kafka: formatted a KRaft log dir in {DATA_DIR.relative_to(STATE_DIR.parent)}")


def running_pid() -> int | None:
    """The broker's pid if the broker this launcher started runs."""
    pid = read_pid(PID_FILE)
    return pid if pid is not None and is_our_process(pid, str(SERVER_PROPERTIES)) else None


async def answers(bootstrap: str = LOCAL_KAFKA_BOOTSTRAP, timeout_ms: int = 3000) -> bool:
    """Whether a broker at `bootstrap` answers a metadata request and lists itself."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="deploy.local", request_timeout_ms=timeout_ms)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        return bool(cluster["brokers"])
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        await admin.close()


def _wait_ready(pid: int, since: int) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        if not pid_alive(pid):
            PID_FILE.unlink(missing_ok=True)
            raise StackError(f"kafka exited during start-up; {LOG_FILE}:\n{log_tail(LOG_FILE, since)}")
        # The cheap port check first keeps aiokafka from logging refused connections.
        if port_open(LOCAL_KAFKA_PORT) and run_sync(answers()):
            return
        if time.monotonic() > deadline:
            kill()
            raise StackError(
                f"kafka did not answer within {READY_TIMEOUT_S:.0f} s; {LOG_FILE}:\n{log_tail(LOG_FILE, since)}"
            )
        time.sleep(0.3)


def start() -> None:
    """Start the broker in its own session (it outlives the launcher) and wait until it answers."""
    for port in (LOCAL_KAFKA_PORT, CONTROLLER_PORT):
        check_listen_port(port, "LOCAL_KAFKA_PORT")
        if port_open(port):
            raise StackError(
                f"127.0.0.1:{port} is taken by a process this launcher did not start; "
                "stop it, or set KAFKA_BOOTSTRAP_SERVERS to use that broker"
            )
    java = _java()
    classpath = f"{jars()}/*"
    _configure(classpath)
    since = log_size(LOG_FILE)
    pid = spawn_detached(
        [java, f"-Xms{HEAP}", f"-Xmx{HEAP}", f"-XX:ErrorFile={LOGS_DIR}/kafka-hs_err_%p.log",
         f"-Dlog4j2.configurationFile={LOG4J_PROPERTIES}", "-cp", classpath,
         "kafka.Kafka", str(SERVER_PROPERTIES)],
        LOG_FILE,
    )  # fmt: skip
    PID_FILE.write_text(f"{pid}\n")
    _wait_ready(pid, since)


def ensure_running() -> None:
    pid = running_pid()
    if pid is None:
        started = time.monotonic()
        start()
        say(f"kafka: started (pid {running_pid()}) on {LOCAL_KAFKA_BOOTSTRAP} in {time.monotonic() - started:.1f} s")
    else:
        say(f"kafka: already running (pid {pid}) on {LOCAL_KAFKA_BOOTSTRAP}")


def _wait_released(pid: int) -> None:
    """Wait until the JVM is gone and its ports are free, so a new broker can bind them at once.

    A killed JVM's main thread shows as exited while its other threads still hold the sockets.
    """
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while pid_alive(pid) or port_open(LOCAL_KAFKA_PORT) or port_open(CONTROLLER_PORT):
        if time.monotonic() > deadline:
            raise StackError(f"kafka (pid {pid}) still holds its ports {STOP_TIMEOUT_S:.0f} s after stopping")
        time.sleep(0.1)
    PID_FILE.unlink(missing_ok=True)


def stop() -> bool:
    """SIGTERM (a clean shutdown), then SIGKILL if it takes too long; whether it was running."""
    pid = running_pid()
    if pid is None:
        PID_FILE.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    if not wait_exit(pid, STOP_TIMEOUT_S):
        say(f"kafka: no exit {STOP_TIMEOUT_S:.0f} s after SIGTERM; sending SIGKILL")
        os.kill(pid, signal.SIGKILL)
    _wait_released(pid)
    return True


def kill() -> bool:
    """SIGKILL, as a crash would; whether it was running."""
    pid = running_pid()
    if pid is None:
        PID_FILE.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGKILL)
    _wait_released(pid)
    return True
