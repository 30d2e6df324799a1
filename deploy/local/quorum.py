"""Which node leads a KRaft cluster's metadata quorum (the active controller): Kafka's DescribeQuorum
request (API 55, KIP-595), which aiokafka does not offer, built from its protocol types. A broker
forwards the request to the active controller, so any broker of the cluster can answer it."""

from typing import Final

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import for_code
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import CompactArray, CompactString, Int16, Int32, Int64, Schema, TaggedFields

METADATA_TOPIC: Final = "__cluster_metadata"
_REPLICA_STATE: Final = CompactArray(("replica_id", Int32), ("log_end_offset", Int64), ("tags", TaggedFields))


# aiokafka ships no type information, so its protocol classes are Any to mypy.
class DescribeQuorumResponse_v0(Response):  # type: ignore[misc]
    API_KEY = 55
    API_VERSION = 0
    SCHEMA = Schema(
        ("error_code", Int16),
        (
            "topics",
            CompactArray(
                ("topic_name", CompactString("utf-8")),
                (
                    "partitions",
                    CompactArray(
                        ("partition_index", Int32),
                        ("error_code", Int16),
                        ("leader_id", Int32),
                        ("leader_epoch", Int32),
                        ("high_watermark", Int64),
                        ("current_voters", _REPLICA_STATE),
                        ("observers", _REPLICA_STATE),
                        ("tags", TaggedFields),
                    ),
                ),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class DescribeQuorumRequest_v0(RequestStruct):  # type: ignore[misc]
    FLEXIBLE_VERSION = True
    API_KEY = 55
    API_VERSION = 0
    RESPONSE_TYPE = DescribeQuorumResponse_v0
    SCHEMA = Schema(
        (
            "topics",
            CompactArray(
                ("topic_name", CompactString("utf-8")),
                ("partitions", CompactArray(("partition_index", Int32), ("tags", TaggedFields))),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class DescribeQuorumRequest(Request[DescribeQuorumRequest_v0]):  # type: ignore[misc]
    API_KEY = 55

    def build(self, request_struct_class: type[DescribeQuorumRequest_v0]) -> DescribeQuorumRequest_v0:
        return request_struct_class([(METADATA_TOPIC, [(0, {})], {})], {})


async def quorum_leader(bootstrap: str, timeout_ms: int = 5000) -> int:
    """The node id of the metadata quorum's leader, the active controller, as a broker at `bootstrap`
    reports it."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap, client_id="deploy.local", request_timeout_ms=timeout_ms)
    await client.bootstrap()
    try:
        response = (await client.send(client.get_random_node(), DescribeQuorumRequest())).to_object()
    finally:
        await client.close()
    partition = response["topics"][0]["partitions"][0]
    for code in (response["error_code"], partition["error_code"]):
        if code:
            raise for_code(code)(f"DescribeQuorum on {bootstrap}")
    leader: int = partition["leader_id"]
    return leader
