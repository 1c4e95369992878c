"""Read template.yaml (CloudFormation short-form intrinsics included) and samconfig.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
SAMCONFIG = ROOT / "samconfig.toml"


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns ``!Ref x`` into ``{"Ref": x}`` and ``!Sub s`` into ``{"Fn::Sub": s}``."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as stream:
        document = yaml.load(stream, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a CloudFormation template")
    return document


def parameter_defaults(template: dict[str, Any]) -> dict[str, str]:
    return {
        name: str(spec["Default"]) for name, spec in (template.get("Parameters") or {}).items() if "Default" in spec
    }


def samconfig_overrides(config_env: str, path: Path = SAMCONFIG) -> dict[str, str]:
    """``parameter_overrides`` of a samconfig environment's deploy command, as a dict."""
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    environments = sorted(name for name, table in config.items() if isinstance(table, dict))  # not `version`
    if config_env not in environments:
        raise KeyError(f"samconfig.toml has no environment {config_env!r}; it has {', '.join(environments)}")
    from tools.samconfig import parse_overrides  # tools.samconfig builds on this module

    params = config[config_env].get("deploy", {}).get("parameters", {})
    return parse_overrides(params.get("parameter_overrides"), config_env)


def condition_holds(template: dict[str, Any], name: str, parameters: dict[str, str]) -> bool:
    """Evaluate a template condition (Fn::Equals/Not/And/Or, Condition, Ref to parameters) as CloudFormation would."""
    return bool(_evaluate(template, template["Conditions"][name], parameters))


_CONDITION_FUNCTIONS: dict[str, Any] = {
    "Fn::Equals": lambda values: values[0] == values[1],
    "Fn::Not": lambda values: not values[0],
    "Fn::And": all,
    "Fn::Or": any,
}


def _evaluate(template: dict[str, Any], node: Any, parameters: dict[str, str]) -> Any:
    if not isinstance(node, dict):
        return str(node)
    (function, argument), *_ = node.items()
    if function == "Ref":
        return parameters[argument]
    if function in ("Condition", "Fn::Condition"):
        return condition_holds(template, argument, parameters)
    if function not in _CONDITION_FUNCTIONS:
        raise ValueError(f"unsupported condition function {function}")
    return _CONDITION_FUNCTIONS[function]([_evaluate(template, item, parameters) for item in argument])


def metric_queries(template: dict[str, Any], alarm_props: dict[str, Any], parameters: dict[str, str]) -> list[Any]:
    """An alarm's ``Metrics`` with ``Fn::If [condition, query, AWS::NoValue]`` entries resolved."""
    resolved: list[Any] = []
    for entry in alarm_props.get("Metrics") or []:
        query = entry
        if isinstance(entry, dict) and "Fn::If" in entry:
            condition, then, otherwise = entry["Fn::If"]
            query = then if condition_holds(template, condition, parameters) else otherwise
        if query != {"Ref": "AWS::NoValue"}:
            resolved.append(query)
    return resolved
