"""The witness reader against a real DNS server on loopback (tools.localdns), the promoter's Invoke of the
probe function through botocore's Stubber, and the probe handler's witness check."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from gdfailover.awscall import AwsCallError
from gdfailover.probe import ProbeResult, with_writer_witness
from gdfailover.witness import CHECK_SOURCE, LambdaWitness, WitnessResolver, witness_name
from tools.localdns import DropQuery, LocalDnsServer

ZONE: dict[str, tuple[str, int] | None] = {}


def answer(name: str) -> tuple[str, int] | None:
    if name.startswith("ap-south-1."):
        raise DropQuery
    return ZONE.get(name)


@pytest.fixture
def dns_server() -> Iterator[LocalDnsServer]:
    ZONE.clear()
    ZONE[witness_name("us-east-1", "redis.internal")] = ("healthy", 5)
    ZONE[witness_name("eu-west-1", "redis.internal")] = ("unhealthy", 5)
    ZONE[witness_name("us-east-2", "redis.internal")] = ("maybe", 5)
    with LocalDnsServer(answer) as server:
        yield server


@pytest.fixture
def resolver(dns_server: LocalDnsServer) -> WitnessResolver:
    return WitnessResolver("redis.internal", dns_server.address, timeout=0.3, clock=lambda: 1000.0)


def test_a_healthy_and_an_unhealthy_witness(resolver: WitnessResolver) -> None:
    healthy = resolver.read("us-east-1")
    assert (healthy.answer, healthy.checked_at) == ("healthy", 1000.0)
    assert resolver.read("eu-west-1").answer == "unhealthy"


def test_every_reading_asks_the_server(resolver: WitnessResolver, dns_server: LocalDnsServer) -> None:
    """No client-side cache: a flip is seen at the next reading (the record's TTL is the resolver's)."""
    assert resolver.read("us-east-1").answer == "healthy"
    ZONE[witness_name("us-east-1", "redis.internal")] = ("unhealthy", 5)
    assert resolver.read("us-east-1").answer == "unhealthy"
    assert dns_server.queries == 2


@pytest.mark.parametrize(
    ("region", "detail"),
    [
        ("us-west-2", "does not exist"),  # NXDOMAIN: no stack in that region
        ("ap-south-1", "no answer"),  # the resolver does not answer: a timeout
        ("us-east-2", "not a verdict"),  # an answer that is neither word
    ],
)
def test_no_verdict_is_unknown_with_a_reason(resolver: WitnessResolver, region: str, detail: str) -> None:
    reading = resolver.read(region)
    assert reading.answer is None
    assert detail in reading.detail


def test_a_replica_reads_its_writers_witness_and_a_writer_reads_none(resolver: WitnessResolver) -> None:
    replica = ProbeResult(0, "read_only", "replica", 3.0, "us-west-2", "rg", 1, "replica_read", 12.0, "us-east-1")
    assert with_writer_witness(replica, resolver).writer_witness == "healthy"
    writer = ProbeResult(1, "healthy", "writer", 3.0, "us-west-2", "rg", 1, "read", 0.0, "us-west-2")
    assert with_writer_witness(writer, resolver) is writer
    assert with_writer_witness(replica, None) is replica


def _payload(document: object) -> StreamingBody:
    raw = json.dumps(document).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def test_the_promoter_asks_the_probe_function() -> None:
    client = boto3.client("lambda", region_name="us-west-2")
    expected = {
        "FunctionName": "gds-failover-b-probe",
        "InvocationType": "RequestResponse",
        "Payload": json.dumps({"source": CHECK_SOURCE, "region": "us-east-1"}).encode(),
    }
    reading = {"region": "us-east-1", "answer": "unhealthy", "checked_at": 1000.0, "detail": "TXT unhealthy"}
    with Stubber(client) as stub:
        stub.add_response("invoke", {"StatusCode": 200, "Payload": _payload(reading)}, expected)
        stub.add_response("invoke", {"StatusCode": 200, "Payload": _payload({"error": "nope"})}, expected)
        stub.add_response(
            "invoke", {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": _payload({})}, expected
        )
        stub.add_client_error("invoke", "TooManyRequestsException", http_status_code=429)
        witness = LambdaWitness(client, "gds-failover-b-probe")
        assert witness.read("us-east-1").answer == "unhealthy"
        with pytest.raises(ValueError, match="no witness reading"):
            witness.read("us-east-1")
        with pytest.raises(ValueError, match="failed the witness check"):
            witness.read("us-east-1")
        with pytest.raises(AwsCallError) as raised:
            witness.read("us-east-1")
        assert raised.value.kind.value == "throttled"
