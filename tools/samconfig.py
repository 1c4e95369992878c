"""samconfig.toml as the deploy tools read it: environments, their regions, stacks, parameters and peers.

SAM CLI reads ``[<env>.deploy.parameters]`` over ``[<env>.global.parameters]`` (never the ``default``
environment's tables for another env); so does this reader. A regional environment is one whose
deploy parameters name a region; two regional environments with the same ``GlobalReplicationGroupId``
are peers: the two regional stacks of one Global Datastore.
"""

from __future__ import annotations

import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.cfn import SAMCONFIG, load_template, parameter_defaults

DEFAULT_STACK_NAME = "gds-failover"


class SamConfigError(ValueError):
    """samconfig.toml cannot be used as asked: a one-line reason for the user."""


@dataclass(frozen=True)
class DeployEnv:
    """One ``--config-env``: where ``sam deploy`` puts the stack and with which parameter overrides."""

    name: str
    region: str
    stack_name: str
    overrides: dict[str, str] = field(default_factory=dict)

    @property
    def global_replication_group_id(self) -> str:
        return self.overrides.get("GlobalReplicationGroupId", "")

    @property
    def failover_role(self) -> str:
        return self.overrides.get("FailoverRole", "")

    def parameters(self, defaults: Mapping[str, str]) -> dict[str, str]:
        """The values CloudFormation will see: template defaults, then this environment's overrides."""
        return {**defaults, **self.overrides}


@dataclass(frozen=True)
class SamConfig:
    path: Path
    document: dict[str, Any]

    @classmethod
    def load(cls, path: Path = SAMCONFIG) -> SamConfig:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise SamConfigError(f"cannot read {path}: {error.strerror or error}") from None
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise SamConfigError(f"{path.name} is not valid TOML: {error}") from None
        return cls(path, document)

    def env_names(self) -> list[str]:
        """Environments with deploy parameters (``default`` included when it has some)."""
        return [name for name, table in self.document.items() if isinstance(table, dict) and self._deploy_table(name)]

    def regional_env_names(self) -> list[str]:
        return [name for name in self.env_names() if self._merged(name).get("region")]

    def env(self, name: str) -> DeployEnv:
        if name not in self.env_names():
            known = ", ".join(self.regional_env_names()) or "none"
            raise SamConfigError(
                f"{self.path.name} has no environment {name!r} with deploy parameters (it has: {known})"
            )
        merged = self._merged(name)
        region = merged.get("region")
        if not isinstance(region, str) or not region:
            raise SamConfigError(f"[{name}.deploy.parameters] sets no region: the tools need one per environment")
        stack_name = merged.get("stack_name", DEFAULT_STACK_NAME)
        if not isinstance(stack_name, str) or not stack_name:
            raise SamConfigError(f"[{name}.deploy.parameters] stack_name must be a non-empty string")
        return DeployEnv(name, region, stack_name, parse_overrides(merged.get("parameter_overrides"), name))

    def peers(self, env: DeployEnv) -> list[DeployEnv]:
        """The other regional environments of the same Global Datastore, in file order."""
        if not env.global_replication_group_id:
            return []
        peers = []
        for name in self.regional_env_names():
            if name == env.name:
                continue
            other = self.env(name)
            if other.global_replication_group_id == env.global_replication_group_id:
                peers.append(other)
        return peers

    def peer(self, env: DeployEnv, chosen: str | None = None) -> DeployEnv | None:
        """The one peer the template wires (it has one set of Peer* parameters)."""
        peers = self.peers(env)
        if chosen:
            match = next((peer for peer in peers if peer.name == chosen), None)
            if match is None:
                names = ", ".join(peer.name for peer in peers) or "none"
                raise SamConfigError(
                    f"{chosen!r} is not a peer of {env.name!r} (same GlobalReplicationGroupId, "
                    f"another region); peers: {names}"
                )
            return match
        if len(peers) > 1:
            names = ", ".join(peer.name for peer in peers)
            raise SamConfigError(f"{env.name!r} has {len(peers)} peer environments ({names}); pick one with PEER=<env>")
        return peers[0] if peers else None

    def _deploy_table(self, name: str) -> dict[str, Any]:
        return _table(self.document, name, "deploy", "parameters")

    def _merged(self, name: str) -> dict[str, Any]:
        return {**_table(self.document, name, "global", "parameters"), **self._deploy_table(name)}


def _table(document: dict[str, Any], *path: str) -> dict[str, Any]:
    """The nested TOML table at ``path``, or an empty one when any level is missing or not a table."""
    node: Any = document
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def parse_overrides(raw: Any, env_name: str) -> dict[str, str]:
    """``parameter_overrides`` in any form SAM CLI accepts here: a list of ``K=V``, one string, or a table."""
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return {str(key): str(value) for key, value in raw.items()}
    if isinstance(raw, str):
        try:
            items: list[Any] = shlex.split(raw)
        except ValueError as error:
            raise SamConfigError(f"[{env_name}.deploy.parameters] parameter_overrides: {error}") from None
    elif isinstance(raw, list):
        items = raw
    else:
        raise SamConfigError(f"[{env_name}.deploy.parameters] parameter_overrides must be a list of Key=Value strings")
    overrides: dict[str, str] = {}
    for item in items:
        key, separator, value = str(item).partition("=")
        if not separator or not key:
            raise SamConfigError(f"[{env_name}.deploy.parameters] parameter_overrides: {item!r} is not Key=Value")
        overrides[key.strip()] = value
    return overrides


def template_defaults() -> dict[str, str]:
    return parameter_defaults(load_template())
