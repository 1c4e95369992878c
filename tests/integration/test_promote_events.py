"""Every events/promote-*.json through the Docker-free invoker (tools/invoke.py), as `make invoke` runs it.

The template supplies PromoteFunction's environment; the test overrides only what a local run must
(the ledger table, the trigger alarm name of the event files' stack, mode auto, the events' account).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.integration.test_promote_promoter import (
    PEER_WRITER_ALARM,
    TABLE,
    create_ledger_table,
    seed_probe_metrics,
    seed_writer_probes,
    set_peer_writer_alarm,
)
from tools.cfn import load_template
from tools.gds_emulator import GDS_ID, SECONDARY_REGION, SECONDARY_RG, GdsEmulator
from tools.invoke import fresh as invoke_fresh
from tools.invoke import invoke_function

EVENTS = Path(__file__).resolve().parents[2] / "events"
PROMOTE_EVENTS = sorted(EVENTS.glob("promote-*.json"))
TRIGGER = "gds-failover-promotion-trigger-my-gds-usw2"

pytestmark = pytest.mark.skipif(
    "PromoteFunction" not in load_template().get("Resources", {}),
    reason="PromoteFunction is not in template.yaml yet (the template issue adds it)",
)

ENV_OVERRIDES = {
    "PromoteFunction": {
        "GLOBAL_REPLICATION_GROUP_ID": GDS_ID,
        "REPLICATION_GROUP_ID": SECONDARY_RG,
        "TRIGGER_ALARM_NAMES": f"{TRIGGER},{PEER_WRITER_ALARM}",
        "PEER_WRITER_ALARM_NAME": PEER_WRITER_ALARM,
        "PEER_HEALTH_CHECK_ID": "",
        "LEDGER_TABLE_NAME": TABLE,
        "OPERATOR_TOPIC_ARN": "",
        "PROMOTION_MODE": "auto",
        "ACCOUNT_ID": "111122223333",
        "FAILOVER_WAIT_SECONDS": "30",
    }
}
EXPECTED = {
    "promote-alarm.json": ("promote", "promote"),
    "promote-ok.json": ("noop", "not-alarm"),
    "promote-foreign-alarm.json": ("noop", "foreign-alarm"),
    "promote-wakeup.json": ("promote", "promote"),
}


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[GdsEmulator]:
    """moto for everything but ElastiCache; ElastiCache clients the handler builds get the emulator."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", SECONDARY_REGION)
    gds = GdsEmulator(polls_until_switch=0)
    real_client = boto3.client

    def client(service_name: str, *args: Any, **kwargs: Any) -> Any:
        built = real_client(service_name, *args, **kwargs)  # type: ignore[call-overload]
        if service_name == "elasticache":
            gds.attach(built)
        return built

    monkeypatch.setattr(boto3, "client", client)
    with mock_aws():
        now = datetime.now(UTC)
        create_ledger_table()
        seed_probe_metrics(now)
        seed_writer_probes(now)  # the writer's own probes: failing longer than the in-region ceiling
        set_peer_writer_alarm("ALARM")
        yield gds


def fresh(event: dict[str, Any]) -> dict[str, Any]:
    """The event files are fixed in time; a live run needs a state change that just happened (as
    `make invoke FRESH=1` stamps it: an alarm's StateChangeTime, a wake-up's probe time)."""
    return invoke_fresh(event, datetime.now(UTC))


def test_there_is_an_alarm_an_ok_a_foreign_alarm_and_a_wake_up_event() -> None:
    assert {path.name for path in PROMOTE_EVENTS} == set(EXPECTED)


@pytest.mark.parametrize("event_path", PROMOTE_EVENTS, ids=lambda path: path.name)
def test_promote_events_through_the_invoker(event_path: Path, emulator: GdsEmulator) -> None:
    event = fresh(json.loads(event_path.read_text()))
    result = invoke_function("PromoteFunction", event, ENV_OVERRIDES, region=SECONDARY_REGION)
    (outcome,) = result["results"]
    assert (outcome["decision"], outcome["code"]) == EXPECTED[event_path.name], outcome
    promotes = event_path.name in ("promote-alarm.json", "promote-wakeup.json")
    assert len(emulator.failover_calls) == (1 if promotes else 0)


def test_the_event_files_as_they_are_are_stale_and_do_nothing(emulator: GdsEmulator) -> None:
    event = json.loads((EVENTS / "promote-alarm.json").read_text())
    result = invoke_function("PromoteFunction", event, ENV_OVERRIDES, region=SECONDARY_REGION)
    assert (result["results"][0]["decision"], result["results"][0]["code"]) == ("noop", "stale")
    assert emulator.failover_calls == []
