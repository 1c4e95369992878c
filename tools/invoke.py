"""Run a function declared in template.yaml in-process: the Docker-free ``sam local invoke``.

    python -m tools.invoke [ProbeFunction] --event events/probe.json [--env-vars env.json] [--local] [--fresh]

Reads the function's Handler, CodeUri, Layers and Environment (merged with Globals) from the
template, resolves ``!Ref`` to parameter values (defaults, then ``--parameter-overrides``), applies
an env-vars file in the ``sam local invoke --env-vars`` format (``{"<LogicalId>": {...},
"Parameters": {...}}``; like SAM, only variables the template declares are overridden), imports the
handler module fresh and calls it with a Lambda-like context. The handler's own output goes to
stderr; the JSON result goes to stdout.

``--local`` (what ``make invoke`` does unless REAL_AWS=1) needs no AWS account: tools/localaws.py
emulates AWS and starts a TLS+AUTH redis-server for the probe. ``--fresh`` stamps an alarm
notification's StateChangeTime 30 s before now (the event files are fixed in time).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import itertools
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from tools.cfn import TEMPLATE, load_template, parameter_defaults
from tools.localaws import LOCAL_REGION, local_aws

_fresh_module_ids = itertools.count()


class InvokeError(RuntimeError):
    """The template does not describe a function we can run."""


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler: str
    code_dir: Path
    layer_dirs: tuple[Path, ...]
    environment: dict[str, str]
    timeout_s: int
    memory_mb: int


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_s: int
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self._started)) * 1000))


def function_spec(
    logical_id: str,
    template_path: Path = TEMPLATE,
    parameter_overrides: Mapping[str, str] | None = None,
    region: str = "us-east-1",
) -> FunctionSpec:
    template = load_template(template_path)
    resources = template.get("Resources", {})
    resource = resources.get(logical_id)
    if resource is None or resource.get("Type") != "AWS::Serverless::Function":
        functions = sorted(k for k, v in resources.items() if v.get("Type") == "AWS::Serverless::Function")
        raise InvokeError(
            f"{logical_id!r} is not an AWS::Serverless::Function in {template_path.name}; "
            f"functions: {', '.join(functions)}"
        )
    globals_fn = template.get("Globals", {}).get("Function", {})
    props = {**globals_fn, **resource.get("Properties", {})}
    parameters = {**parameter_defaults(template), **(parameter_overrides or {})}

    def resolve(value: Any) -> str:
        if isinstance(value, dict) and set(value) == {"Ref"}:
            name = value["Ref"]
            if name == "AWS::Region":
                return region
            if name in parameters:
                return parameters[name]
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, str | int | float):
            return str(value)
        return ""  # like sam local: intrinsics it cannot resolve locally become empty

    variables = {
        **(globals_fn.get("Environment", {}).get("Variables", {}) or {}),
        **(resource.get("Properties", {}).get("Environment", {}).get("Variables", {}) or {}),
    }
    layer_dirs = []
    for layer in props.get("Layers", []) or []:
        layer_id = layer.get("Ref") if isinstance(layer, dict) else None
        layer_resource = resources.get(layer_id or "", {})
        content = layer_resource.get("Properties", {}).get("ContentUri")
        if isinstance(content, str):
            layer_dirs.append((template_path.parent / content).resolve())
    return FunctionSpec(
        logical_id=logical_id,
        handler=str(props["Handler"]),
        code_dir=(template_path.parent / str(props["CodeUri"])).resolve(),
        layer_dirs=tuple(layer_dirs),
        environment={name: resolve(value) for name, value in variables.items()},
        timeout_s=int(resolve(props.get("Timeout", 3)) or 3),
        memory_mb=int(resolve(props.get("MemorySize", 128)) or 128),
    )


def apply_env_vars_file(spec: FunctionSpec, env_vars: Mapping[str, Any]) -> dict[str, str]:
    """Apply ``--env-vars`` content: ``Parameters`` for every function, then ``<LogicalId>``."""
    environment = dict(spec.environment)
    for section in ("Parameters", spec.logical_id):
        variables = env_vars.get(section) or {}
        if not isinstance(variables, dict):
            raise InvokeError(
                f"env-vars: {section!r} must be an object of variable names to values, "
                f'not {type(variables).__name__} ({{"{spec.logical_id}": {{"NAME": "value"}}}})'
            )
        for name, value in variables.items():
            if name not in environment:
                print(
                    f"invoke: ignoring {name} from env-vars: the template does not declare it "
                    f"for {spec.logical_id} (sam local invoke ignores it too)",
                    file=sys.stderr,
                )
                continue
            environment[name] = "" if value is None else str(value)
    return environment


@contextlib.contextmanager
def lambda_environment(spec: FunctionSpec, environment: Mapping[str, str], region: str) -> Iterator[None]:
    """os.environ and sys.path as Lambda would set them for ``spec``; both restored on exit."""
    saved_env, saved_path = dict(os.environ), list(sys.path)
    os.environ.update(
        {
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout_s),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_SAM_LOCAL": "true",
            **environment,
        }
    )
    sys.path[:0] = [str(p) for p in (spec.code_dir, *spec.layer_dirs)]
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.path[:] = saved_path


def import_handler_module(spec: FunctionSpec, name_prefix: str = "_invoked") -> tuple[ModuleType, Callable[..., Any]]:
    """Import the handler's module under a fresh name (so its module-scope config is read again).

    Call inside :func:`lambda_environment`. Returns the module and its handler function.
    """
    module_name, _, function_name = spec.handler.rpartition(".")
    module_file = spec.code_dir / (module_name.replace(".", "/") + ".py")
    if not module_file.is_file():
        raise InvokeError(f"handler module {module_file} does not exist (Handler {spec.handler!r})")
    module_id = f"{name_prefix}_{spec.logical_id}_{next(_fresh_module_ids)}"
    module_spec = importlib.util.spec_from_file_location(module_id, module_file)
    if module_spec is None or module_spec.loader is None:
        raise InvokeError(f"cannot load {module_file}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_id] = module
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_id, None)
        raise
    return module, getattr(module, function_name)


def lambda_context(spec: FunctionSpec, region: str) -> LambdaContext:
    return LambdaContext(
        function_name=spec.logical_id,
        memory_limit_in_mb=spec.memory_mb,
        timeout_s=spec.timeout_s,
        invoked_function_arn=f"arn:aws:lambda:{region}:123456789012:function:{spec.logical_id}",
    )


def invoke_function(
    logical_id: str,
    event: Any,
    env_vars: Mapping[str, Any] | None = None,
    *,
    template: Path | str = TEMPLATE,
    parameter_overrides: Mapping[str, str] | None = None,
    region: str | None = None,
    local: bool = False,
) -> Any:
    """Import the handler fresh (module-scope config is re-read) and call it once.

    ``local``: inside the emulated world of tools/localaws.py (no AWS account, a local redis-server).
    """
    if local:
        region = region or LOCAL_REGION
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    spec = function_spec(logical_id, Path(template), parameter_overrides, region)
    environment = apply_env_vars_file(spec, env_vars or {})
    with contextlib.ExitStack() as stack:
        if local:
            environment = stack.enter_context(local_aws(logical_id, environment, region))
        with lambda_environment(spec, environment, region):
            module, handler = import_handler_module(spec)
            try:
                return handler(event, lambda_context(spec, region))
            finally:
                sys.modules.pop(module.__name__, None)


def fresh(event: Any, now: datetime | None = None) -> Any:
    """The event with every SNS-wrapped alarm's StateChangeTime 30 s before ``now`` (Timestamp: now), or a
    probe wake-up's probe time 30 s before ``now``."""
    now = now or datetime.now(UTC)
    probe = event.get("probe") if isinstance(event, dict) and event.get("wakeup") else None
    if isinstance(probe, dict):
        probe["checked_at"] = (now - timedelta(seconds=30)).timestamp()
    for record in event.get("Records", []) if isinstance(event, dict) else []:
        sns = record.get("Sns") if isinstance(record, dict) else None
        if not isinstance(sns, dict):
            continue
        try:
            message = json.loads(sns.get("Message") or "")
        except ValueError:
            continue
        if isinstance(message, dict) and "StateChangeTime" in message:
            message["StateChangeTime"] = (now - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
            sns["Message"] = json.dumps(message)
            sns["Timestamp"] = now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return event


#: An event file's name starts with the function it is for (events/probe.json, events/promote-*.json).
FUNCTION_BY_PREFIX = {"probe": "ProbeFunction", "promote": "PromoteFunction"}


def function_for_event_file(path: Path) -> str | None:
    return FUNCTION_BY_PREFIX.get(path.stem.split("-", 1)[0])


def _read_json(path: str, what: str) -> Any:
    """A JSON file's content, or an InvokeError saying in one line why not."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvokeError(f"{what} {path} does not exist") from None
    except UnicodeDecodeError:
        raise InvokeError(f"{what} {path} is not UTF-8 text (a binary file?): it must be JSON") from None
    except OSError as error:
        raise InvokeError(f"cannot read {what} {path}: {error.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvokeError(f"{what} {path} is not JSON: {error}") from None


def require_credentials(region: str | None) -> None:
    """REAL_AWS=1 without credentials would let the handler fail on its first call (a traceback inside
    a JSON log line, exit 0): refuse in one line instead."""
    import boto3
    import botocore.exceptions

    try:
        credentials = boto3.session.Session(region_name=region).get_credentials()
    except botocore.exceptions.BotoCoreError as error:  # a broken profile, SSO config, ...
        raise InvokeError(f"no usable AWS credentials for REAL_AWS=1: {error}") from None
    if credentials is None:
        raise InvokeError(
            "no AWS credentials (environment, ~/.aws, SSO, instance role): REAL_AWS=1 runs against your "
            "account; without it, make invoke emulates AWS"
        )


def emf_metrics(stdout: str) -> dict[str, float]:
    """Metric values from the EMF documents a handler printed (one JSON document per line)."""
    values: dict[str, float] = {}
    for raw_line in stdout.splitlines():
        line = raw_line.strip()
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                values[metric["Name"]] = float(value[-1] if isinstance(value, list) else value)
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make invoke", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "function", nargs="?", help="logical id in template.yaml (default: from the event file's name prefix)"
    )
    parser.add_argument("--event", "-e", required=True, help="event JSON file ('-' for stdin)")
    parser.add_argument("--env-vars", "-n", help="JSON file in the sam local --env-vars format")
    parser.add_argument("--parameter-overrides", nargs="*", default=[], metavar="KEY=VALUE")
    parser.add_argument("--template", "-t", default=str(TEMPLATE))
    parser.add_argument("--region", help=f"default: {LOCAL_REGION} with --local, else AWS_REGION")
    parser.add_argument("--local", action="store_true", help="no AWS account: emulated AWS, local redis-server")
    parser.add_argument("--fresh", action="store_true", help="stamp the alarm's StateChangeTime 30 s before now")
    args = parser.parse_args(argv)
    from gdfailover.config import ConfigError
    from tools.localredis import RedisServerMissing

    try:
        event = _read_json(args.event, "event file")
        function = args.function or function_for_event_file(Path(args.event))
        if function is None:
            raise InvokeError(f"name the function (FN=...): {args.event} does not start with probe or promote")
        env_vars = _read_json(args.env_vars, "env-vars file") if args.env_vars else None
        if env_vars is not None and not isinstance(env_vars, dict):
            raise InvokeError(f"env-vars file {args.env_vars} must be a JSON object of {{<LogicalId>: {{...}}}}")
        overrides = dict(item.split("=", 1) for item in args.parameter_overrides)
        if not args.local:
            require_credentials(args.region)
        with contextlib.redirect_stdout(sys.stderr):
            result = invoke_function(
                function,
                fresh(event) if args.fresh else event,
                env_vars,
                template=args.template,
                parameter_overrides=overrides,
                region=args.region,
                local=args.local,
            )
    except (InvokeError, RedisServerMissing) as error:
        print(f"invoke: {error}", file=sys.stderr)
        return 2
    except ConfigError as error:  # the handler's cold start refused its environment
        print(f"invoke: {function}'s configuration: {error} (set it in the env-vars file)", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
