"""The peer wiring of a regional stack, derived instead of hand-copied.

Each regional stack needs three values from its peer's stack Outputs (``HealthCheckId``,
``WriterAlarmName``, ``PromotionTopicArn`` become ``PeerHealthCheckId``, ``PeerWriterAlarmName``,
``PeerPromotionTopicArn``), the SECONDARY needs the zone the PRIMARY created (``HostedZoneId``), and
the PRIMARY associates the peer's VPC with that zone (``PeerVpcId``/``PeerVpcRegion``, from the peer
environment in samconfig.toml), and the dashboard names the peer's replication group
(``PeerReplicationGroupId``, from the peer environment too). :func:`plan_wiring` computes them from
the peer environment and its
stack as read with DescribeStacks; a value set explicitly in samconfig.toml always wins.

Zone ownership: the PRIMARY-record environment without a ``HostedZoneId`` creates the private zone;
any other environment without one takes the zone from that peer's ``HostedZoneId`` output.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tools.awsclients import StackView
from tools.samconfig import DeployEnv

#: Peer parameter of this stack -> the peer stack's output that holds its value.
PEER_OUTPUTS = {
    "PeerHealthCheckId": "HealthCheckId",
    "PeerWriterAlarmName": "WriterAlarmName",
    "PeerPromotionTopicArn": "PromotionTopicArn",
}
ZONE_OUTPUT = "HostedZoneId"


def creates_zone(parameters: Mapping[str, str]) -> bool:
    return not parameters.get("HostedZoneId") and parameters.get("FailoverRole") == "PRIMARY"


def has_zone_source(parameters: Mapping[str, str]) -> bool:
    """This stack's record can live somewhere others can find: its own zone id, or the zone it creates."""
    return bool(parameters.get("HostedZoneId")) or creates_zone(parameters)


@dataclass
class Wiring:
    """Parameter values to add to this environment's overrides, and what to tell the user."""

    values: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: the peer's stack exists and its outputs were read
    peer_deployed: bool = False


def offline_placeholder(peer: DeployEnv, output: str) -> str:
    """Stands for a value only the peer's deployed stack knows (preflight's offline view)."""
    return f"<{peer.name} stack output {output}>"


def plan_wiring(
    env: DeployEnv,
    peer: DeployEnv | None,
    defaults: Mapping[str, str],
    peer_stack: StackView | None,
    offline: bool = False,
) -> Wiring:
    """What ``make deploy CONFIG_ENV=<env>`` passes on top of samconfig.toml.

    ``peer_stack`` is the peer's stack as DescribeStacks returned it (None: not deployed). With
    ``offline`` the peer's outputs are unknown and stand-in values mark them.
    """
    wiring = Wiring()
    parameters = env.parameters(defaults)
    if peer is None:
        if not has_zone_source(parameters):
            wiring.problems.append(
                f"{env.name} is {parameters.get('FailoverRole') or 'not PRIMARY'} without a HostedZoneId and no "
                "PRIMARY environment of the same GlobalReplicationGroupId creates the zone: set HostedZoneId"
            )
        return wiring
    peer_parameters = peer.parameters(defaults)

    if creates_zone(parameters) and not env.overrides.get("PeerVpcId") and peer.overrides.get("VpcId"):
        wiring.values["PeerVpcId"] = peer.overrides["VpcId"]
        wiring.values["PeerVpcRegion"] = peer.region

    if not env.overrides.get("PeerReplicationGroupId") and peer.overrides.get("ReplicationGroupId"):
        wiring.values["PeerReplicationGroupId"] = peer.overrides["ReplicationGroupId"]  # the dashboard's peer panels

    needs_zone = not has_zone_source(parameters)
    if needs_zone and not has_zone_source(peer_parameters):
        wiring.problems.append(
            f"{env.name} has no HostedZoneId and its peer {peer.name} does not create the zone either "
            "(the PRIMARY environment without HostedZoneId creates it): set HostedZoneId in one of them"
        )
        needs_zone = False

    if offline:
        for parameter, output in PEER_OUTPUTS.items():
            if not env.overrides.get(parameter):
                wiring.values[parameter] = offline_placeholder(peer, output)
        if needs_zone:
            wiring.values["HostedZoneId"] = offline_placeholder(peer, ZONE_OUTPUT)
        return wiring

    if peer_stack is None or not peer_stack.usable:
        state = "is not deployed yet" if peer_stack is None else f"is {peer_stack.status}"
        if needs_zone:
            wiring.problems.append(
                f"{peer.name}'s stack {peer.stack_name} in {peer.region} {state}, and {env.name} takes its "
                f"hosted zone from it: deploy it first (make deploy CONFIG_ENV={peer.name})"
            )
        for parameter in PEER_OUTPUTS:
            if not env.overrides.get(parameter):
                wiring.values[parameter] = ""
        wiring.notes.append(
            f"{peer.name}'s stack {peer.stack_name} in {peer.region} {state}: deploying {env.name} without "
            "peer wiring (no second vantage, no fast path yet)"
        )
        return wiring

    wiring.peer_deployed = True
    missing = [output for output in (*PEER_OUTPUTS.values(), ZONE_OUTPUT) if not peer_stack.outputs.get(output)]
    if missing:
        wiring.problems.append(
            f"{peer.name}'s stack has no {', '.join(missing)} output: redeploy it with this template first "
            f"(make deploy CONFIG_ENV={peer.name})"
        )
        return wiring
    for parameter, output in PEER_OUTPUTS.items():
        _take(wiring, env, parameter, peer_stack.outputs[output], f"{peer.name}'s {output} output")
    if needs_zone:
        _take(wiring, env, "HostedZoneId", peer_stack.outputs[ZONE_OUTPUT], f"{peer.name}'s HostedZoneId output")
    return wiring


def _take(wiring: Wiring, env: DeployEnv, parameter: str, value: str, source: str) -> None:
    explicit = env.overrides.get(parameter)
    if explicit:
        if explicit != value:
            wiring.notes.append(f"samconfig.toml sets {parameter}={explicit}, but {source} is {value}: keeping yours")
        return
    wiring.values[parameter] = value


def stale_peer_parameters(this_stack: StackView, peer_stack: StackView | None) -> list[str]:
    """Peer parameters of the peer's stack that do not match this stack's current outputs."""
    if peer_stack is None or not peer_stack.usable:
        return []
    return [
        parameter
        for parameter, output in PEER_OUTPUTS.items()
        if this_stack.outputs.get(output) and peer_stack.parameters.get(parameter) != this_stack.outputs[output]
    ]
