"""What a Kafka cluster changes, without one: replication and in-sync replicas by cluster size
(shared/topics.py, deploy/provision.py), the local cluster's nodes and their configs (deploy/local/kafka.py),
and a bootstrap list of several brokers. The cluster itself is tests/e2e/test_kafka_cluster.py. No I/O
beyond reading settings."""

from pathlib import Path

import pytest

from deploy.local.base import StackError
from deploy.local.kafka import KafkaCluster, local
from deploy.provision import REPLICATION_FACTOR_VARIABLE, ProvisionError, replication_factor
from shared.kafka import bootstrap_list
from shared.topics import ALL_TOPICS, min_insync_replicas, topic_configs


@pytest.mark.parametrize(("brokers", "replicas"), [(1, 1), (2, 2), (3, 3), (6, 3)])
def test_topics_are_replicated_to_every_broker_up_to_three(
    brokers: int, replicas: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(REPLICATION_FACTOR_VARIABLE, raising=False)
    assert replication_factor(brokers) == replicas


@pytest.mark.parametrize(("replicas", "insync"), [(1, 1), (2, 1), (3, 2), (5, 4)])
def test_a_write_needs_all_replicas_but_one_from_three_up(replicas: int, insync: int) -> None:
    assert min_insync_replicas(replicas) == insync
    assert all(topic_configs(topic, replication_factor=replicas)["min.insync.replicas"] == str(insync)
               for topic in ALL_TOPICS)  # fmt: skip


def test_the_replication_factor_set_is_taken_when_the_cluster_has_that_many_brokers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(REPLICATION_FACTOR_VARIABLE, " 2 ")
    assert replication_factor(5) == 2


@pytest.mark.parametrize("value", ["0", "4", "three", "-1", "٣"])
def test_a_replication_factor_the_cluster_cannot_hold_is_refused_naming_the_variable(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REPLICATION_FACTOR_VARIABLE, value)
    with pytest.raises(ProvisionError, match=f"{REPLICATION_FACTOR_VARIABLE} must be a whole number from 1 to"):
        replication_factor(3)


def test_a_cluster_of_three_is_a_quorum_of_three_combined_nodes_on_its_own_ports(tmp_path: Path) -> None:
    cluster = KafkaCluster(20000, tmp_path, brokers=3)
    assert cluster.bootstrap == "127.0.0.1:20000,127.0.0.1:20002,127.0.0.1:20004"
    ports = [port for node in cluster.nodes for port in (node.port, node.controller_port)]
    assert len(set(ports)) == 6
    assert len({node.data_dir for node in cluster.nodes}) == 3
    config = cluster.node(2).config()
    assert "node.id=2\n" in config
    assert "controller.quorum.voters=1@127.0.0.1:20001,2@127.0.0.1:20003,3@127.0.0.1:20005\n" in config
    assert "process.roles=broker,controller\n" in config
    # The group offsets and transaction state survive a broker too.
    assert "offsets.topic.replication.factor=3\n" in config
    assert "min.insync.replicas=2\n" in config


def test_a_single_node_keeps_its_place_and_settings(tmp_path: Path) -> None:
    node = KafkaCluster(20000, tmp_path).node(1)
    assert node.data_dir == tmp_path / "data"
    assert "offsets.topic.replication.factor=1\n" in node.config()


@pytest.mark.parametrize("brokers", ["2", "many"])
def test_the_local_stack_runs_one_broker_or_three(brokers: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_KAFKA_BROKERS", brokers)
    with pytest.raises(StackError, match="runs 1 or 3 brokers"):
        local()


def test_several_bootstrap_servers_are_split_for_the_consumers() -> None:
    assert bootstrap_list("127.0.0.1:1, 127.0.0.1:2,") == ["127.0.0.1:1", "127.0.0.1:2"]
