"""A consumer group as the broker sees it (the Kafka admin API), and how long a rebalance takes."""

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment, ConsumerProtocolMemberMetadata
from aiokafka.errors import GroupCoordinatorNotAvailableError

from shared.topics import EVENT_TOPICS, PARTITIONS

# How often a rebalance's end is looked for: the figures are this precise.
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Member:
    client_id: str
    topics: frozenset[str]  # what it subscribed to
    partitions: frozenset[tuple[str, int]]  # what it was assigned


@dataclass(frozen=True)
class GroupState:
    state: str  # Stable, PreparingRebalance, CompletingRebalance, Empty, Dead
    members: dict[str, Member]  # by member id

    @property
    def assigned(self) -> frozenset[tuple[str, int]]:
        return frozenset().union(*(member.partitions for member in self.members.values()))

    @property
    def clients(self) -> set[str]:
        return {member.client_id for member in self.members.values()}

    @property
    def subscriptions(self) -> set[frozenset[str]]:
        """The distinct topic sets members subscribed to: a service process has a member per
        subscription, so it has this many members in the group."""
        return {member.topics for member in self.members.values()}

    @property
    def at_work(self) -> bool:
        """Stable, with every partition of every topic subscribed to assigned."""
        topics = frozenset().union(*self.subscriptions)
        return self.state == "Stable" and len(self.assigned) == PARTITIONS * len(topics)

    def instances(self) -> float:
        """How many service processes the members make up."""
        return len(self.members) / max(len(self.subscriptions), 1)


class ConsumerGroups:
    """Reads consumer groups' state from the broker."""

    def __init__(self, bootstrap: str) -> None:
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)

    async def __aenter__(self) -> "ConsumerGroups":
        await self._admin.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._admin.close()

    async def describe(self, group: str) -> GroupState:
        try:
            (response,) = await self._admin.describe_consumer_groups([group])
        except GroupCoordinatorNotAvailableError:  # no coordinator elected for the group yet
            return GroupState("Dead", {})
        (described,) = response.groups
        # DescribeGroups v0-v2: (error_code, group_id, state, protocol_type, protocol, members); a
        # member is (member_id, client_id, client_host, member_metadata, member_assignment).
        members = {}
        for member_id, client_id, _host, metadata, assignment in described[5]:
            topics = ConsumerProtocolMemberMetadata.decode(metadata).subscription if metadata else []
            assigned = ConsumerProtocolMemberAssignment.decode(assignment).assignment if assignment else []
            partitions = frozenset((topic, partition) for topic, numbers in assigned for partition in numbers)
            members[member_id] = Member(client_id, frozenset(topics), partitions)
        return GroupState(described[2], members)

    async def wait_for(self, group: str, done: Callable[[GroupState], bool], timeout: float = 120.0) -> GroupState:
        """Poll the group until `done` says so; its state then."""
        deadline = time.monotonic() + timeout
        while True:
            found = await self.describe(group)
            if done(found):
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"group {group} still {found} after {timeout} s")
            await asyncio.sleep(POLL_SECONDS)

    async def at_work(self, group: str, instances: int, timeout: float = 120.0) -> GroupState:
        """Until the group is at work with the members of `instances` service processes (Empty for 0)."""
        if instances == 0:
            return await self.wait_for(group, lambda found: found.state == "Empty", timeout)
        return await self.wait_for(group, lambda found: found.at_work and found.instances() == instances, timeout)


async def start_at_end(bootstrap: str, group: str) -> None:
    """Commit `group`'s offsets at the current end of every partition of every event topic: a service
    started in that group takes exactly what is published from now on, none of the topics' history."""
    offsets = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await offsets.start()
    try:
        ends = await offsets.end_offsets(
            [TopicPartition(topic, p) for topic in EVENT_TOPICS for p in range(PARTITIONS)]
        )
        offsets.assign(list(ends))
        await offsets.commit(dict(ends))
    finally:
        await offsets.stop()
