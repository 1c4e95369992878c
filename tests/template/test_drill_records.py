"""The drill builds each region's DNS records the way template.yaml does (tools.drill.world.stack_records).

The template's records come from the real template after the SAM transform with each stack's parameters
(tests.template.test_three_regions.Evaluated); the drill's from its own layouts. Both are reduced to what
Route 53 routes on, and resolved with the template test's Route 53 model for every combination of
healthy writers, so the drill's client resolves through the same DNS tree a three-region deployment has.
"""

from __future__ import annotations

import itertools
from typing import Any, cast

import pytest

from tests.template.test_three_regions import Evaluated, Stack, answer
from tools.drill.world import THREE_REGIONS, TWO_REGIONS, RegionLayout, absolute, stack_records
from tools.drill.world import Region as DrillRegion
from tools.localredis import RedisServer

ZONE = "Z0123456789ABCDEFGHIJ"  # the template test's zone id


def _drill_region(layout: RegionLayout) -> DrillRegion:
    return DrillRegion(
        layout.label,
        layout.name,
        layout.role,
        layout.replication_group_id,
        cast(RedisServer, None),
        parameters={"RecordName": "redis.internal", **layout.parameters},
        endpoint_name=f"master.{layout.replication_group_id}.cache.amazonaws.com",
        health_check_id=f"hc-{layout.label}",
    )


def _template_records(layout: RegionLayout) -> list[dict[str, Any]]:
    overrides = {"FailoverRole": layout.role, **layout.parameters}
    if layout.role == "SECONDARY":
        overrides["HostedZoneId"] = ZONE
    stack = Stack(layout.label, layout.name, overrides)
    extra = {
        "ReplicationGroupId": layout.replication_group_id,
        "RedisPrimaryEndpoint": f"master.{layout.replication_group_id}.cache.amazonaws.com",
    }
    return Evaluated(stack, extra).all_records()  # the witness pair too


def _routing(record: dict[str, Any]) -> tuple[Any, ...]:
    alias = record.get("AliasTarget")
    return (
        absolute(record["Name"]),
        record["Type"],
        str(record.get("TTL")),
        record["Failover"],
        record["SetIdentifier"],
        record.get("HealthCheckId"),
        tuple(r if isinstance(r, str) else r["Value"] for r in record.get("ResourceRecords", [])),
        (absolute(alias["DNSName"]), alias["EvaluateTargetHealth"]) if alias else None,
    )


@pytest.mark.parametrize("layouts", [TWO_REGIONS, THREE_REGIONS], ids=["two", "three"])
def test_the_drills_records_are_the_templates(layouts: tuple[RegionLayout, ...]) -> None:
    for layout in layouts:
        drill = sorted(_routing(r) for r in stack_records(_drill_region(layout), ZONE, 10))
        template = sorted(_routing(r) for r in _template_records(layout))
        assert drill == template, layout.label


@pytest.mark.parametrize("healthy", [set(c) for n in range(4) for c in itertools.combinations("ABC", n)], ids=str)
def test_the_drills_three_region_tree_answers_as_the_templates(healthy: set[str]) -> None:
    drill = [r for layout in THREE_REGIONS for r in stack_records(_drill_region(layout), ZONE, 10)]
    for record in drill:  # the template model resolves names without the final dot
        record["Name"] = record["Name"].rstrip(".")
        if "AliasTarget" in record:
            record["AliasTarget"] = {**record["AliasTarget"], "DNSName": record["AliasTarget"]["DNSName"].rstrip(".")}
        if "ResourceRecords" in record:
            record["ResourceRecords"] = [r["Value"] for r in record["ResourceRecords"]]
    template = [r for layout in THREE_REGIONS for r in _template_records(layout)]
    checks = {f"hc-{label}" for label in healthy}
    assert answer(drill, "redis.internal", checks) == answer(template, "redis.internal", checks)
