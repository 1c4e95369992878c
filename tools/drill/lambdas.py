"""The real Lambda handlers, loaded from template.yaml in-process, and moto's Step Functions running
the real probe state machine with them.

Handlers are loaded the way ``tools.invoke`` runs them (Handler, CodeUri, layer, environment from the
template plus overrides), but loaded once per region and kept, so the drill can hand them the emulated
clock: ``run_probe`` on the probe module gets ``clock=`` (heartbeat timestamps and ages in emulated
time), and the promote module's ``clock``, ``datastores`` and evidence ``sources`` are replaced by the
emulated ones. Everything else in the handlers runs as deployed.

Handler output (Powertools logs and EMF) goes to a per-thread capture, so the drill can read the
metrics a probe emitted and the decision record a promoter logged, and to the drill's log file.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, TextIO
from unittest import mock

import boto3

from tools.drill.sim import Simulation
from tools.invoke import (
    apply_env_vars_file,
    emf_metrics,
    function_spec,
    import_handler_module,
    lambda_environment,
)

_module_ids = itertools.count()


class CapturingStdout(io.TextIOBase):
    """sys.stdout during a run: everything goes to the run's log; a thread may also capture its own output.

    One instance per process, installed by :meth:`for_run`: Powertools loggers keep the stream they were
    created with and are shared by service name, so a second run in the same process must find the same
    stream; writes from threads that outlive their run are dropped instead of hitting a closed file.
    """

    _instance: ClassVar[CapturingStdout | None] = None

    def __init__(self) -> None:
        self._log: TextIO | None = None
        self._local = threading.local()
        self._lock = threading.Lock()

    @classmethod
    @contextlib.contextmanager
    def for_run(cls, log: TextIO) -> Iterator[CapturingStdout]:
        instance = cls._instance = cls._instance or cls()
        saved_stdout = sys.stdout
        with instance._lock:
            instance._log = log
        sys.stdout = instance
        try:
            yield instance
        finally:
            sys.stdout = saved_stdout
            with instance._lock:
                instance._log = None

    def write(self, text: str) -> int:
        with self._lock:
            if self._log is not None:
                self._log.write(text)
        buffer = getattr(self._local, "buffer", None)
        if buffer is not None:
            buffer.write(text)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._log is not None:
                self._log.flush()

    @contextlib.contextmanager
    def capture(self) -> Iterator[io.StringIO]:
        buffer = io.StringIO()
        self._local.buffer = buffer
        try:
            yield buffer
        finally:
            self._local.buffer = None


def load_handler_module(
    logical_id: str, region: str, parameters: Mapping[str, str], env_overrides: Mapping[str, str]
) -> ModuleType:
    """Import the function's handler module with its template environment, exactly as tools.invoke does."""
    spec = function_spec(logical_id, parameter_overrides=parameters, region=region)
    environment = apply_env_vars_file(spec, {logical_id: dict(env_overrides)})
    with lambda_environment(spec, environment, region):
        module, _handler = import_handler_module(spec, name_prefix=f"_drill_{region}")
    return module


emf_values = emf_metrics


def logged_records(text: str, key: str) -> list[dict[str, Any]]:
    """The ``key`` field of every Powertools JSON log line that has it."""
    found = []
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if line.startswith("{") and f'"{key}"' in line:
            try:
                document = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(document.get(key), dict):
                found.append(document[key])
    return found


LambdaTask = Callable[[dict[str, Any]], dict[str, Any]]


class StepFunctionsOnVirtualTime:
    """moto's ASL interpreter with the Lambda task calling drill functions in-process and the Wait
    state sleeping on the emulated clock (an execution is an actor of the simulation)."""

    def __init__(self, simulation: Simulation) -> None:
        self._simulation = simulation
        self._tasks: dict[str, LambdaTask] = {}
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> StepFunctionsOnVirtualTime:
        from moto.awslambda_simple.models import LambdaSimpleBackend
        from moto.stepfunctions.parser.asl.component.program.program import Program
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
            WaitFunction,
        )

        tasks = self._tasks
        simulation = self._simulation

        def invoke(backend: Any, function_name: str, qualifier: Any, body: Any, *extra: Any) -> bytes:
            task = tasks[function_name.rsplit(":", maxsplit=1)[-1]]
            payload = json.loads(body) if body else {}
            try:
                return json.dumps(task(payload), default=str).encode()
            except Exception as error:  # the state machine's Catch records it, as with a real Lambda
                response_headers = extra[-1]  # (headers, response_headers), as moto passes them
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)}).encode()

        def wait(function: Any, env: Any, wait_seconds: int) -> None:
            simulation.actor_sleep(float(wait_seconds))

        original_eval = Program.eval

        def evaluate(program: Any, env: Any) -> None:
            try:
                original_eval(program, env)
            finally:
                simulation.leave_actor()

        self._stack.enter_context(mock.patch.object(LambdaSimpleBackend, "invoke", invoke))
        self._stack.enter_context(mock.patch.object(WaitFunction, "_wait_interval", wait))
        self._stack.enter_context(mock.patch.object(Program, "eval", evaluate))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def deploy(self, region: str, name: str, definition: str, task: LambdaTask, wakeup: LambdaTask) -> str:
        """Create the probe Lambda and the promoter the wake-up invokes (placeholder packages: the tasks
        run in-process) and the state machine; return the state machine ARN."""
        iam = boto3.client("iam", region_name=region)
        role_name = f"{name}-role"
        try:
            role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        except iam.exceptions.EntityAlreadyExistsException:
            role_arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as archive:
            archive.writestr("app.py", "# the drill runs functions/probe/app.py in-process\n")
        arns = {}
        for function, run in ((name, task), (f"{name}-wakeup", wakeup)):
            arns[function] = boto3.client("lambda", region_name=region).create_function(
                FunctionName=function,
                Runtime="python3.13",
                Role=role_arn,
                Handler="app.lambda_handler",
                Code={"ZipFile": package.getvalue()},
            )["FunctionArn"]
            self._tasks[function] = run
        machine = definition.replace("${ProbeFunctionArn}", arns[name])
        machine = machine.replace("${PromoteFunctionArn}", arns[f"{name}-wakeup"])
        return str(
            boto3.client("stepfunctions", region_name=region).create_state_machine(
                name=name, definition=machine, roleArn=role_arn, type="STANDARD"
            )["stateMachineArn"]
        )

    def start(self, region: str, state_machine_arn: str, execution_name: str) -> None:
        """Start an execution as the schedule does; returns once it waits or ends (emulated time)."""
        self._simulation.enter_actor()
        boto3.client("stepfunctions", region_name=region).start_execution(
            stateMachineArn=state_machine_arn, name=execution_name, input='{"source": "probe-schedule"}'
        )
        self._simulation.settle()


def asl_definition(template: Mapping[str, Any], parameters: Mapping[str, str], partition: str = "aws") -> str:
    """statemachine/probe.asl.json with the template's DefinitionSubstitutions (moto ignores them)."""
    from tools.cfn import ROOT

    machine = template["Resources"]["ProbeStateMachine"]["Properties"]
    text = (ROOT / str(machine["DefinitionUri"])).read_text(encoding="utf-8")
    cadence = parameters["ProbeCadenceSeconds"]
    substitutions = {
        "Partition": partition,
        "HeartbeatAgeThresholdSeconds": str(parameters["HeartbeatAgeThresholdSeconds"]),
        "ProbeWaitSeconds": cadence,
        "ProbesPerExecution": str(template["Mappings"]["Cadence"][cadence]["ProbesPerExecution"]),
    }
    for name, value in substitutions.items():
        text = text.replace("${" + name + "}", value)
    return text


def workdir_log(path: Path) -> TextIO:
    return path.open("w", encoding="utf-8")
