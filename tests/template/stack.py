"""Helpers shared by the template tests, the state-machine integration test and .ci/template-gates.

- ``sam_template()``: template.yaml parsed the way SAM parses it (short-form intrinsics).
- ``transformed()``: the CloudFormation that aws-sam-translator produces (local code paths replaced by
  S3 URIs first, as ``sam package`` does; managed policies resolved from a fixed map, no AWS calls).
- ``asl_*``: DefinitionSubstitutions handling and a structural validator for the probe ASL; the gate
  also parses the substituted ASL with the Step Functions grammar moto ships (``main()``).
"""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ASL = ROOT / "statemachine" / "probe.asl.json"

#: Parameters without a default, filled with valid examples so the template can be transformed.
REQUIRED_PARAMETERS: dict[str, str] = {
    "GlobalReplicationGroupId": "ldgnf-test-gds",
    "ReplicationGroupId": "test-rg",
    "RedisPrimaryEndpoint": "master.test-rg.abc123.use1.cache.amazonaws.com",
    "VpcId": "vpc-0123456789abcdef0",
    "SubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
    "SecurityGroupIds": "sg-0123456789abcdef0",
    "FailoverRole": "PRIMARY",
}

#: The managed policies SAM attaches (VPC access, X-Ray); ARNs as in the real partition "aws".
MANAGED_POLICIES: dict[str, str] = {
    "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "AWSLambdaVPCAccessExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
    "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "AWSXRayDaemonWriteAccess": "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
}

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
_SUB_REFERENCE = re.compile(r"\$\{([A-Za-z0-9_.]+)\}")  # ${Name} or ${Name.Attribute}; not ${AWS::...}


def sam_template(path: Path = TEMPLATE) -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    document = yaml_parse(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def _packaged(template: dict[str, Any]) -> dict[str, Any]:
    """What ``sam package`` hands to the transform: local paths replaced by S3 locations."""
    packaged = copy.deepcopy(template)
    for logical_id, resource in packaged["Resources"].items():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(props.get(key), str):
                props[key] = f"s3://gds-failover-test-artifacts/{logical_id}/{key}"
    return packaged


def transformed(overrides: dict[str, str] | None = None, template: dict[str, Any] | None = None) -> dict[str, Any]:
    """The template after the AWS::Serverless transform, for the given parameter values."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    parameters = {
        **REQUIRED_PARAMETERS,
        **(overrides or {}),
        "AWS::Region": "us-east-1",
        "AWS::AccountId": "123456789012",
        "AWS::Partition": "aws",
        "AWS::StackName": "gds-failover",
    }
    source = _packaged(template if template is not None else sam_template())
    translator = Translator(
        managed_policy_map=None, sam_parser=Parser(), boto_session=boto3.Session(region_name="us-east-1")
    )
    result = translator.translate(
        source, parameter_values=parameters, get_managed_policy_map=lambda: dict(MANAGED_POLICIES)
    )
    assert isinstance(result, dict)
    return result


def resources_of_type(cfn: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in cfn["Resources"].items() if r["Type"] == resource_type}


def refs(value: Any) -> set[str]:
    """Logical ids a value points at through Ref, GetAtt and ${} inside Sub."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) else str(inner).split(".", 1)[0]
                found.add(target)
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                local = set(inner[1]) if isinstance(inner, list) else set()
                found.update(p.split(".", 1)[0] for p in _SUB_REFERENCE.findall(str(text)) if p not in local)
                if isinstance(inner, list):
                    found.update(refs(inner[1]))
            else:
                found.update(refs(inner))
    elif isinstance(value, list):
        for item in value:
            found.update(refs(item))
    return found


# --- ASL ------------------------------------------------------------------------------------------


def asl_text(path: Path = ASL) -> str:
    return path.read_text(encoding="utf-8")


def asl_placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def substitute(text: str, values: dict[str, str]) -> str:
    """What CloudFormation does with DefinitionSubstitutions (moto ignores them, so tests call this)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"no DefinitionSubstitutions value for ${{{name}}}")
        return values[name]

    return _PLACEHOLDER.sub(replace, text)


LAMBDA_SERVICE_ERRORS = frozenset(
    {
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    }
)


def validate_asl(definition: dict[str, Any]) -> list[str]:
    """Structural checks the Step Functions grammar does not make; returns the problems found."""
    problems: list[str] = []
    states: dict[str, Any] = definition.get("States", {})
    if definition.get("StartAt") not in states:
        problems.append(f"StartAt {definition.get('StartAt')!r} is not a state")

    def targets(state: dict[str, Any]) -> list[str]:
        found = [state["Next"]] if "Next" in state else []
        found += [c["Next"] for c in state.get("Choices", [])]
        found += [state["Default"]] if "Default" in state else []
        found += [c["Next"] for c in state.get("Catch", [])]
        return found

    for name, state in states.items():
        for target in targets(state):
            if target not in states:
                problems.append(f"{name}: transition to unknown state {target!r}")
        terminal = state["Type"] in {"Succeed", "Fail"} or state.get("End") is True
        if not terminal and state["Type"] != "Choice" and "Next" not in state:
            problems.append(f"{name}: neither Next nor End")
        if state["Type"] == "Task":
            for retrier in state.get("Retry", []):
                extra = set(retrier["ErrorEquals"]) - LAMBDA_SERVICE_ERRORS
                if extra:
                    problems.append(f"{name}: retries on {sorted(extra)} (only Lambda service errors allowed)")
            catch_all = [c for c in state.get("Catch", []) if "States.ALL" in c["ErrorEquals"]]
            if not catch_all:
                problems.append(f"{name}: a failed task would end the execution (no Catch on States.ALL)")
            elif catch_all[0].get("Next") != state.get("Next"):
                problems.append(f"{name}: the Catch must continue where success continues")

    reachable: set[str] = set()
    pending = [definition.get("StartAt")]
    while pending:
        current = pending.pop()
        if current in reachable or current not in states:
            continue
        reachable.add(str(current))
        pending.extend(targets(states[str(current)]))
    for name in states:
        if name not in reachable:
            problems.append(f"{name}: unreachable")
    if not any(states[n]["Type"] == "Succeed" or states[n].get("End") for n in reachable):
        problems.append("no reachable terminal state")
    return problems


def template_substitution_keys(template: dict[str, Any] | None = None) -> set[str]:
    doc = template if template is not None else sam_template()
    machine = doc["Resources"]["ProbeStateMachine"]["Properties"]
    return set(machine["DefinitionSubstitutions"])


def example_substitutions(wait_seconds: str = "30", probes: str = "2") -> dict[str, str]:
    return {
        "Partition": "aws",
        "ProbeFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:gds-failover-probe",
        "PromoteFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:gds-failover-promote",
        "HeartbeatAgeThresholdSeconds": "55",
        "ProbeWaitSeconds": wait_seconds,
        "ProbesPerExecution": probes,
    }


def main() -> int:
    """The ASL gate: placeholders == DefinitionSubstitutions keys, structure, Step Functions grammar."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    text = asl_text()
    failures: list[str] = []
    keys = template_substitution_keys()
    used = asl_placeholders(text)
    if keys != used:
        failures.append(f"DefinitionSubstitutions {sorted(keys)} != placeholders in {ASL.name} {sorted(used)}")
    mapping = sam_template()["Mappings"]["Cadence"]
    for cadence, row in mapping.items():
        definition_text = substitute(text, example_substitutions(cadence, row["ProbesPerExecution"]))
        definition = json.loads(definition_text)
        failures += [f"cadence {cadence}: {p}" for p in validate_asl(definition)]
        try:
            AmazonStateLanguageParser.parse(definition_text)
        except Exception as error:
            failures.append(f"cadence {cadence}: Step Functions grammar rejects the ASL: {error}")
    for failure in failures:
        print(f"ASL: {failure}", file=sys.stderr)
    if not failures:
        print(f"ASL: {ASL.relative_to(ROOT)} valid for cadences {', '.join(mapping)}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())


def assert_valid_stack_parameters(parameters: dict[str, Any], overrides: dict[str, str]) -> None:
    """A samconfig environment's overrides: known parameters, every required one, allowed values."""
    assert set(overrides) <= set(parameters)
    assert {n for n, s in parameters.items() if "Default" not in s} <= set(overrides)
    for name, value in overrides.items():
        spec = parameters[name]
        if "AllowedValues" in spec:
            assert value in [str(v) for v in spec["AllowedValues"]], name
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], value), name
