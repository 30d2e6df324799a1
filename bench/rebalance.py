"""How long a consumer group rebalance takes, by membership and session settings.

    .venv/bin/python -m bench.rebalance [--members 3] [--rate 300]

Runs against the real local stack (started if needed). Each member is a process of its own consuming a
scratch topic of 12 partitions (as the services' topics have) the way the services consume: aiokafka,
batches of up to 100 records, a little work per record, offsets committed after each batch; SIGTERM
stops it (the consumer leaves the group), SIGKILL gives it no chance to. A producer keeps `--rate`
records per second flowing meanwhile. For each variant the group starts with `--members` members and
goes through four changes; each figure is from the change (signal sent, process started) until the
broker reports the group Stable again with the expected members holding all 12 partitions (the Kafka
admin API, polled every 50 ms):

- scale-in: one member SIGTERMed; - scale-out: a new member started;
- crash: one member SIGKILLed; - restart: one member SIGKILLed and started again at once (a container
  restarted in place).

Variants: `dynamic` (aiokafka's and FastStream's defaults: session 10 s, heartbeat 3 s), `dynamic-6s`
(session 6 s, the broker's default minimum, heartbeat 2 s), `dynamic-6s-hb1s` (session 6 s, heartbeat
1 s), `static` (static membership,
`group.instance.id` per member, session 10 s). aiokafka has no cooperative-sticky protocol (only the
eager range, round-robin and sticky assignors), so every rebalance stops the whole group.
"""

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, TopicAlreadyExistsError

from bench.support import table
from deploy.local.stack import ensure_stack
from shared.services import REPO_ROOT
from shared.topics import PARTITIONS
from tests.support.consumer_groups import ConsumerGroups, GroupState

TOPIC: Final = "bench.rebalance"
WORK_SECONDS_PER_RECORD: Final = 0.002
BATCH_RECORDS: Final = 100


@dataclass(frozen=True)
class Variant:
    name: str
    session_ms: int
    heartbeat_ms: int
    static: bool


VARIANTS: Final = [
    Variant("dynamic", 10_000, 3_000, static=False),
    Variant("dynamic-6s", 6_000, 2_000, static=False),
    Variant("dynamic-6s-hb1s", 6_000, 1_000, static=False),
    Variant("static", 10_000, 3_000, static=True),
]


async def member(bootstrap: str, group: str, name: str, variant: Variant) -> None:
    """One member: consume, work, commit, until SIGTERM; then leave."""
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id=group,
        client_id=name,
        group_instance_id=name if variant.static else None,
        session_timeout_ms=variant.session_ms,
        heartbeat_interval_ms=variant.heartbeat_ms,
        enable_auto_commit=False,
        auto_offset_reset="latest",
    )
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    await consumer.start()
    try:
        while not stopping.is_set():
            batches = await consumer.getmany(timeout_ms=50, max_records=BATCH_RECORDS)
            records = sum(len(batch) for batch in batches.values())
            if records:
                await asyncio.sleep(records * WORK_SECONDS_PER_RECORD)
                with contextlib.suppress(CommitFailedError):  # rebalanced meanwhile: the next owner redoes it
                    await consumer.commit()
    finally:
        await consumer.stop()


class Members:
    """The member processes of one group."""

    def __init__(self, bootstrap: str, group: str, variant: Variant) -> None:
        self._args = [bootstrap, group, variant.name]
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self._started = 0

    def start(self, name: str | None = None) -> str:
        if name is None:
            name, self._started = f"member-{self._started}", self._started + 1
        self.running[name] = subprocess.Popen(
            [sys.executable, "-m", "bench.rebalance", "--member", name, *self._args],
            cwd=REPO_ROOT,
            start_new_session=True,
        )
        return name

    def stop(self, name: str, signum: signal.Signals) -> None:
        process = self.running.pop(name)
        process.send_signal(signum)
        process.wait(30)

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name, signal.SIGTERM)


def members_named(state: GroupState, names: set[str], gone: frozenset[str] = frozenset()) -> bool:
    """The group at work with exactly the members `names` (by client id), none of the member ids `gone`."""
    return state.at_work and state.clients == names and not gone & set(state.members)


async def measure(variant: Variant, bootstrap: str, members: int) -> list[float]:
    group = f"bench-rebalance-{variant.name}-{uuid.uuid4().hex[:8]}"
    processes = Members(bootstrap, group, variant)
    figures = []
    async with ConsumerGroups(bootstrap) as groups:
        try:
            for _ in range(members):
                processes.start()
            await groups.wait_for(group, lambda state: members_named(state, set(processes.running)))

            async def change(step: str) -> None:
                before = await groups.describe(group)
                gone: frozenset[str] = frozenset()
                started = time.monotonic()
                if step == "scale-in":
                    processes.stop(next(iter(processes.running)), signal.SIGTERM)
                elif step == "scale-out":
                    processes.start()
                elif step == "crash":
                    processes.stop(next(iter(processes.running)), signal.SIGKILL)
                else:  # restart in place: the same name (the same group.instance.id when static)
                    name = next(iter(processes.running))
                    processes.stop(name, signal.SIGKILL)
                    processes.start(name)
                    # It must have rejoined: the killed process's member id is gone.
                    gone = frozenset(
                        member_id for member_id, member in before.members.items() if member.client_id == name
                    )
                await groups.wait_for(group, lambda state: members_named(state, set(processes.running), gone))
                figures.append(time.monotonic() - started)
                await asyncio.sleep(2)  # the group at work again before the next change

            for step in ("scale-in", "scale-out", "crash", "restart"):
                await change(step)
        finally:
            processes.stop_all()
    return figures


async def traffic(bootstrap: str, rate: int, stop: asyncio.Event) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        sent = 0
        while not stop.is_set():
            await producer.send(TOPIC, b"x" * 200, key=str(sent).encode())
            sent += 1
            await asyncio.sleep(1 / rate)
    finally:
        await producer.stop()


async def run(args: argparse.Namespace, bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()
    stop = asyncio.Event()
    producing = asyncio.create_task(traffic(bootstrap, args.rate, stop))
    rows = []
    try:
        for variant in VARIANTS:
            figures = await measure(variant, bootstrap, args.members)
            rows.append([variant.name, *(f"{seconds:.2f}" for seconds in figures)])
            print(f"{variant.name}: {', '.join(rows[-1][1:])}", flush=True)
    finally:
        stop.set()
        await producing
    print(f"\nseconds until the group is at work again ({args.members} members, {args.rate} records/s flowing)")
    print(table(["variant", "scale-in (SIGTERM)", "scale-out (start)", "crash (SIGKILL)", "restart in place"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--rate", type=int, default=300, help="records per second produced meanwhile")
    parser.add_argument("--member", nargs=4, metavar=("NAME", "BOOTSTRAP", "GROUP", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.member:
        name, bootstrap, group, variant_name = args.member
        variant = next(variant for variant in VARIANTS if variant.name == variant_name)
        asyncio.run(member(bootstrap, group, name, variant))
        return
    asyncio.run(run(args, os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or ensure_stack()[1]))


if __name__ == "__main__":
    main()
