"""make gameday: break the writer's region on purpose with AWS FIS, follow the real chain, measure it.

    python -m tools.gameday --config-env <env> --experiment <in-region-failover|writer-unreachable>
        [--peer <env>] [--confirm <account>/<global datastore>] [--timeout-minutes N] [--report-dir DIR]

Runs make verify's checks first and refuses a pair that is not healthy; asks for a confirmation that
names the account and the Global Datastore (``--confirm`` for CI); starts the experiment template of
examples/gameday/template.yaml found by its tags in the writer's region; prints each link of the chain
as it happens; stops when the expected end state is reached or the timeout passes, and stops the
experiment whatever happens (Ctrl-C, an error); prints the drill's timeline format and each step beside
make rto's typical and worst; writes a JSON report; says how to go back.

Exit codes: 0 the expected outcome, 1 refused (pair not healthy, primary not where the experiment
aims) or the outcome was not the expected one, 2 usage or AWS error, interrupted, or the experiment
could not be confirmed stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

from gdfailover.elasticache import ElastiCacheGlobalDatastores
from tools.awsclients import ClientFactory, boto3_clients, describe_error, read_stack
from tools.cfn import SAMCONFIG, load_template, parameter_defaults
from tools.checks import CHECK_FAILED, OK, USAGE_OR_AWS_ERROR, Finding, exit_code
from tools.gameday.chain import ChainEvent, ChainWatcher, Side
from tools.gameday.experiments import DATASTORE_TAG, EXPERIMENT_TAG, EXPERIMENTS, Expectation, Experiment
from tools.gameday.report import (
    back_out,
    measured_section,
    side_dict,
    step_rows,
    steps_text,
    timeline,
    write_report,
)
from tools.rto import TimingModel
from tools.samconfig import SamConfig, SamConfigError

#: FIS experiment states after which nothing runs any more (FIS API reference, ExperimentState).
TERMINAL = frozenset({"completed", "stopped", "failed", "cancelled"})
#: States in which FIS ended the experiment before its actions ran their course: nothing more will come.
ENDED_EARLY = frozenset({"stopped", "failed", "cancelled"})
STOP_ATTEMPTS = 3
RUN_TAG = "gds-failover-gameday-run"
#: With nothing new for this long, one line says the watch goes on and where the chain stands.
QUIET_LINE_S = 60.0
STOP_WAIT_S = 120.0
#: Default of --poll-seconds: how often the watch reads the chain.
GAMEDAY_POLL_S = 10.0

Preflight = Callable[[SamConfig, str, ClientFactory, datetime, "str | None"], list[Finding]]


class UsageError(Exception):
    """Bad input or an AWS failure before anything was started: one line, exit 2."""


class Refused(Exception):
    """The pair or the experiment is not in a state to break on purpose: one line, exit 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _verify(config: SamConfig, env: str, clients: ClientFactory, now: datetime, peer: str | None) -> list[Finding]:
    from tools.verify import verify

    return verify(config, env, clients, now, peer_name=peer)


@dataclass
class Clock:
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    sleep: Callable[[float], None] = time.sleep


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = _Parser(prog="make gameday", description=__doc__.splitlines()[0], add_help=False)
    parser.add_argument("--config-env", required=True)
    parser.add_argument("--experiment", required=True)
    parser.add_argument("--peer")
    parser.add_argument("--confirm", help="<account id>/<global datastore id>, for CI")
    parser.add_argument("--timeout-minutes", type=int)
    parser.add_argument("--poll-seconds", type=float, default=GAMEDAY_POLL_S)
    parser.add_argument("--report-dir", type=Path, default=Path("gameday-reports"))
    args = parser.parse_args(argv)
    if args.experiment not in EXPERIMENTS:
        raise UsageError(f"unknown EXPERIMENT {args.experiment!r}; one of: {', '.join(EXPERIMENTS)}")
    if args.timeout_minutes is not None and not 1 <= args.timeout_minutes <= 120:
        raise UsageError("TIMEOUT_MINUTES must be between 1 and 120")
    if not 1 <= args.poll_seconds <= 60:
        raise UsageError("--poll-seconds must be between 1 and 60")
    return args


def account_id(clients: ClientFactory, region: str) -> str:
    try:
        return str(clients("sts", region).get_caller_identity()["Account"])
    except Exception as failure:
        raise UsageError(f"no usable AWS credentials: {describe_error('GetCallerIdentity', failure)}") from None


def sides(config: SamConfig, env_name: str, peer_name: str | None, clients: ClientFactory) -> tuple[Side, Side, str]:
    """(writer side A, peer side B, Global Datastore id), the writer as ElastiCache names it today."""
    env = config.env(env_name)
    peer = config.peer(env, peer_name)
    if peer is None:
        raise UsageError(f"{env_name!r} has no peer environment in samconfig.toml (same GlobalReplicationGroupId)")
    stacks = []
    for member in (env, peer):
        try:
            stack = read_stack(clients, member.stack_name, member.region)
        except Exception as failure:
            raise UsageError(describe_error("DescribeStacks", failure)) from None
        if stack is None:
            raise UsageError(f"{member.stack_name} is not deployed in {member.region}")
        stacks.append((member, stack))
    gds = stacks[0][1].parameters.get("GlobalReplicationGroupId", "")
    try:
        datastore = ElastiCacheGlobalDatastores(clients("elasticache", env.region)).describe(gds)
    except Exception as failure:
        raise UsageError(describe_error("DescribeGlobalReplicationGroups", failure)) from None
    primary = datastore.primary
    writer_group = primary.replication_group_id if primary else ""
    ordered = sorted(stacks, key=lambda pair: pair[1].parameters.get("ReplicationGroupId") != writer_group)
    if ordered[0][1].parameters.get("ReplicationGroupId") != writer_group:
        raise Refused(f"neither stack's replication group is the writer of {gds} ({writer_group or 'none'})")
    (a_env, a_stack), (b_env, b_stack) = ordered
    return Side("A", a_env.name, a_env.region, a_stack), Side("B", b_env.name, b_env.region, b_stack), gds


def find_template(clients: ClientFactory, writer: Side, experiment: str, gds: str) -> dict[str, Any]:
    fis = clients("fis", writer.region)
    try:
        found = [
            template
            for page in fis.get_paginator("list_experiment_templates").paginate()
            for template in page.get("experimentTemplates") or []
            if (template.get("tags") or {}).get(EXPERIMENT_TAG) == experiment
            and (template.get("tags") or {}).get(DATASTORE_TAG) == gds
        ]
    except Exception as failure:
        raise UsageError(describe_error("ListExperimentTemplates", failure)) from None
    if not found:
        raise UsageError(
            f"no FIS experiment template {experiment} for {gds} in {writer.region}: deploy examples/gameday/"
            f"template.yaml there (docs/gameday.md)"
        )
    if len(found) > 1:
        ids = ", ".join(str(template["id"]) for template in found)
        raise UsageError(f"{len(found)} experiment templates {experiment} for {gds} in {writer.region} ({ids})")
    try:
        return dict(fis.get_experiment_template(id=found[0]["id"])["experimentTemplate"])
    except Exception as failure:
        raise UsageError(describe_error("GetExperimentTemplate", failure)) from None


def check_aim(clients: ClientFactory, writer: Side, template: dict[str, Any]) -> str:
    """in-region-failover only fails over when the primary node is in the AZ FIS powers off."""
    zones = {
        str((target.get("parameters") or {}).get("availabilityZoneIdentifier", ""))
        for target in (template.get("targets") or {}).values()
    } - {""}
    try:
        group = clients("elasticache", writer.region).describe_replication_groups(ReplicationGroupId=writer.group)[
            "ReplicationGroups"
        ][0]
    except Exception as failure:
        raise UsageError(describe_error("DescribeReplicationGroups", failure)) from None
    if group.get("AutomaticFailover") != "enabled" or group.get("MultiAZ") != "enabled":
        raise Refused(f"{writer.group} has no Multi-AZ automatic failover: an AZ power cut would be an outage")
    primary_zones = {
        str(member.get("PreferredAvailabilityZone", ""))
        for node_group in group.get("NodeGroups") or []
        for member in node_group.get("NodeGroupMembers") or []
        if member.get("CurrentRole") == "primary"
    }
    if not primary_zones & zones:
        raise Refused(
            f"the primary of {writer.group} is in {', '.join(sorted(primary_zones)) or 'no AZ'}, the experiment "
            f"powers off {', '.join(sorted(zones)) or 'no AZ'}: redeploy examples/gameday with "
            f"PrimaryAvailabilityZone={next(iter(sorted(primary_zones)), '?')}"
        )
    return ", ".join(sorted(zones))


def confirm(token: str, given: str | None, ask: Callable[[str], str], interactive: bool) -> None:
    if given is not None:
        if given != token:
            raise UsageError(f"CONFIRM={given!r} does not name this account and datastore ({token})")
        return
    if not interactive:
        raise UsageError(f"no terminal to confirm on: pass CONFIRM={token}")
    try:
        answer = ask(f"Type {token} to break it on purpose: ")
    except EOFError:
        answer = ""
    if answer.strip() != token:
        raise UsageError("not confirmed: nothing started")


class ExperimentRun:
    """A started FIS experiment; :meth:`stop` is safe to call whatever state it is in."""

    def __init__(self, clients: ClientFactory, region: str, experiment_id: str, clock: Clock) -> None:
        self._fis = clients("fis", region)
        self.region = region
        self.id = experiment_id
        self._clock = clock
        self.final_status = ""

    def status(self) -> str:
        return str(self._fis.get_experiment(id=self.id)["experiment"]["state"]["status"])

    def stop(self) -> str | None:
        """Stops it and waits until FIS says it no longer runs; returns a problem line, or None."""
        last_error = ""
        for _ in range(STOP_ATTEMPTS):
            try:
                status = self.status()
                if status not in TERMINAL:
                    self._fis.stop_experiment(id=self.id)
                break
            except KeyboardInterrupt:  # a second Ctrl-C must not leave the experiment running
                last_error = "interrupted again while stopping"
            except Exception as failure:
                last_error = describe_error("StopExperiment", failure)
            self._pause(2.0)
        else:
            return f"could not stop experiment {self.id}: {last_error}"
        deadline = self._clock.now() + timedelta(seconds=STOP_WAIT_S)
        while True:
            try:
                status = self.status()
            except KeyboardInterrupt:
                status = "stopping"
            except Exception as failure:
                return f"could not confirm experiment {self.id} stopped: {describe_error('GetExperiment', failure)}"
            if status in TERMINAL:
                self.final_status = status
                return None
            if self._clock.now() >= deadline:
                return f"experiment {self.id} is still {status} after {STOP_WAIT_S:.0f} s"
            self._pause(5.0)

    def _pause(self, seconds: float) -> None:
        with contextlib.suppress(KeyboardInterrupt):
            self._clock.sleep(seconds)


def start(clients: ClientFactory, region: str, template_id: str, name: str, clock: Clock) -> ExperimentRun:
    """StartExperiment; when its answer is lost (Ctrl-C, a timeout), the experiment it may have started is
    looked up by this run's tag and stopped, so that nothing keeps running unseen."""
    fis = clients("fis", region)
    run_id = uuid.uuid4().hex[:12]
    try:
        response = fis.start_experiment(
            clientToken=run_id,
            experimentTemplateId=template_id,
            tags={RUN_TAG: run_id, EXPERIMENT_TAG: name},
        )
        return ExperimentRun(clients, region, str(response["experiment"]["id"]), clock)
    except (Exception, KeyboardInterrupt) as failure:
        stray = _started_by(fis, template_id, run_id)
        problem = stray and ExperimentRun(clients, region, stray, clock).stop()
        detail = f"; experiment {stray} it started was stopped" if stray and not problem else ""
        if problem:
            detail = f"; {problem}: aws fis stop-experiment --id {stray} --region {region}"
        if isinstance(failure, KeyboardInterrupt):
            raise UsageError(f"interrupted while starting{detail}") from None
        raise UsageError(describe_error("StartExperiment", failure) + detail) from None


def _started_by(fis: Any, template_id: str, run_id: str) -> str | None:
    try:
        for page in fis.get_paginator("list_experiments").paginate(experimentTemplateId=template_id):
            for item in page.get("experiments") or []:
                if (item.get("tags") or {}).get(RUN_TAG) == run_id:
                    return str(item["id"])
    except Exception:  # noqa: S110 - nothing found is what the caller reports
        pass
    return None


def _quiet_line(watcher: ChainWatcher, now: datetime, started: datetime) -> str:
    state = watcher.state
    stamp = f"T{(now - (state.fault_at or started)).total_seconds():+5.0f}s"
    decisions = len(state.peer_decisions)
    return (
        f"  {stamp}  {'':8} {'':8} (watching: experiment {state.experiment_status or '?'}, writer "
        f"{state.writer_group or '?'}, record -> {state.dns_answer or '?'}, {decisions} peer decision(s))"
    )


def _print_event(event: ChainEvent, fault_at: datetime | None, started: datetime, out: Callable[[str], None]) -> None:
    stamp = f"T{(event.at - (fault_at or started)).total_seconds():+5.0f}s"
    label = {"fault": "FAULT", "promoter": "PROMOTER"}.get(event.kind, event.kind)
    out(f"  {stamp}  {label:<8} {event.where:<8} {event.text}")


def main(
    argv: Sequence[str] | None = None,
    *,
    clients: ClientFactory | None = None,
    samconfig: Path = SAMCONFIG,
    clock: Clock | None = None,
    preflight: Preflight = _verify,
    ask: Callable[[str], str] = input,
    interactive: bool | None = None,
    out: Callable[[str], None] = print,
) -> int:
    clock = clock or Clock()
    try:
        args = parse_args(argv)
        config = SamConfig.load(samconfig)
        config.env(args.config_env)
    except (UsageError, SamConfigError) as problem:
        out(f"gameday: {problem}")
        return USAGE_OR_AWS_ERROR
    experiment = EXPERIMENTS[args.experiment]
    clients = clients or boto3_clients()
    try:
        return _run(
            args,
            experiment,
            config,
            clients=clients,
            clock=clock,
            preflight=preflight,
            ask=ask,
            interactive=interactive,
            out=out,
        )
    except UsageError as problem:
        out(f"gameday: {problem}")
        return USAGE_OR_AWS_ERROR
    except Refused as problem:
        out(f"gameday: refused: {problem}")
        return CHECK_FAILED
    except SamConfigError as problem:
        out(f"gameday: {problem}")
        return USAGE_OR_AWS_ERROR


def _run(
    args: argparse.Namespace,
    experiment: Experiment,
    config: SamConfig,
    *,
    clients: ClientFactory,
    clock: Clock,
    preflight: Preflight,
    ask: Callable[[str], str],
    interactive: bool | None,
    out: Callable[[str], None],
) -> int:
    env = config.env(args.config_env)
    account = account_id(clients, env.region)
    out(f"gameday {experiment.name}: make verify's checks first (a pair that is not healthy is not broken further)")
    findings = preflight(config, args.config_env, clients, clock.now(), args.peer)
    code = exit_code(findings)
    if code != OK:
        for finding in findings:
            if finding.level.value in ("FAIL", "error"):
                out(finding.line())
        if code == USAGE_OR_AWS_ERROR:
            raise UsageError("verify could not check the pair (above): nothing started")
        raise Refused("the pair is not healthy (make verify, above): nothing started")
    out(f"verify: healthy ({len(findings)} checks)")
    writer, peer, gds = sides(config, args.config_env, args.peer, clients)
    template = find_template(clients, writer, experiment.name, gds)
    aim = f", AZ {check_aim(clients, writer, template)}" if experiment.name == "in-region-failover" else ""
    parameters = {**parameter_defaults(load_template()), **peer.stack.parameters}
    model = TimingModel.from_parameters(parameters)
    mode = peer.stack.parameters.get("PromotionMode", "auto")
    # how long a promotion could still be decided after an in-region failover: the in-region ceiling's worst
    settle_s = model.decided_after("in-region")[1]
    expectation = experiment.expectation(mode, settle_s)
    timeout = timedelta(minutes=args.timeout_minutes or experiment.default_timeout_minutes)
    out(
        f"experiment {experiment.name} ({template['id']}) in {writer.region}{aim}: {experiment.summary}\n"
        f"  writer A = {writer.group} ({writer.region}), peer B = {peer.group} ({peer.region}, "
        f"PromotionMode={mode})\n  expected: {expectation.text}; timeout {timeout.total_seconds() / 60:.0f} min"
    )
    if mode == "auto" and experiment.name == "writer-unreachable":
        out("  PromotionMode=auto: the peer WILL promote; going back is a planned switchover")
    confirm(f"{account}/{gds}", args.confirm, ask, sys.stdin.isatty() if interactive is None else interactive)

    started = clock.now()
    run = start(clients, writer.region, str(template["id"]), experiment.name, clock)
    watcher = ChainWatcher(
        clients, writer=writer, peer=peer, global_replication_group_id=gds, experiment_id=run.id, since=started
    )
    outcome, problem = "timeout", None
    try:
        out(f"started FIS experiment {run.id}; Ctrl-C stops it. Following the chain:")
        last_output = started
        while True:
            now = clock.now()
            new = watcher.poll(now)
            for event in new:
                _print_event(event, watcher.state.fault_at, started, out)
            if new:
                last_output = now
            elif (now - last_output).total_seconds() >= QUIET_LINE_S:
                last_output = now
                out(_quiet_line(watcher, now, started))
            if expectation.reached(watcher.state):
                outcome = "end state reached"
                break
            if watcher.state.experiment_status in ENDED_EARLY:
                outcome = f"experiment {watcher.state.experiment_status} by FIS (a stop condition or an error)"
                break
            if now - started >= timeout:
                break
            clock.sleep(args.poll_seconds)
    except KeyboardInterrupt:
        outcome = "interrupted (Ctrl-C)"
    except Exception as failure:  # an unexpected failure still stops the experiment below
        outcome, problem = "error", f"{type(failure).__name__}: {failure}"
    finally:
        stop_problem = run.stop()
    out(f"experiment {run.id}: {run.final_status or 'NOT CONFIRMED STOPPED'} ({outcome})")
    return _finish(
        args,
        experiment,
        expectation,
        watcher=watcher,
        model=model,
        run=run,
        started=started,
        clock=clock,
        outcome=outcome,
        problem=problem,
        stop_problem=stop_problem,
        account=account,
        out=out,
    )


def _finish(
    args: argparse.Namespace,
    experiment: Experiment,
    expectation: Expectation,
    *,
    watcher: ChainWatcher,
    model: TimingModel,
    run: ExperimentRun,
    started: datetime,
    clock: Clock,
    outcome: str,
    problem: str | None,
    stop_problem: str | None,
    account: str,
    out: Callable[[str], None],
) -> int:
    state = watcher.state
    try:  # one last look: what happened while the experiment stopped
        watcher.poll(clock.now())
    except Exception as failure:  # the report is still written
        problem = problem or f"last poll: {failure}"
    verdict = expectation.judge(state)
    rows = step_rows(experiment.name, model, state)
    promoted = state.writer_group == state.peer.group
    out("")
    out(timeline(watcher.events, state.fault_at, started))
    out("")
    out(steps_text(rows))
    out("")
    out(f"expected: {expectation.text}")
    out(f"observed: {'; '.join(verdict.reasons)} -> {'PASS' if verdict.passed else 'FAIL'}")
    out(f"this experiment proves: {experiment.proves}; it cannot show {experiment.cannot_show}")
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    path = args.report_dir / f"gameday-{experiment.name}-{stamp}.json"
    document = {
        "kind": "gds-failover gameday",
        "experiment": experiment.name,
        "experiment_id": run.id,
        "experiment_final_status": run.final_status or None,
        "account": account,
        "global_replication_group_id": watcher.global_replication_group_id,
        "writer": side_dict(state.writer),
        "peer": side_dict(state.peer),
        "promotion_mode": state.peer.stack.parameters.get("PromotionMode", "auto"),
        "started_at": started.isoformat(),
        "fault_at": state.fault_at.isoformat() if state.fault_at else None,
        "ended": outcome,
        "expected": expectation.text,
        "passed": verdict.passed,
        "observed": list(verdict.reasons),
        "steps": [row.as_dict() for row in rows],
        "timeline": [event.as_dict() for event in watcher.events],
        "read_errors": watcher.read_errors,
        "problems": [line for line in (problem, stop_problem) if line],
        "measured": measured_section(rows, experiment.name, promoted),
    }
    write_report(path, document)
    out(f"report: {path}")
    out(back_out(state, promoted))
    if stop_problem:
        out(f"gameday: {stop_problem}. STOP IT BY HAND: aws fis stop-experiment --id {run.id} --region {run.region}")
        return USAGE_OR_AWS_ERROR
    if problem or outcome.startswith("interrupted"):
        out(f"gameday: {problem or outcome}; the experiment was stopped")
        return USAGE_OR_AWS_ERROR
    return OK if verdict.passed else CHECK_FAILED


def _terminate_like_ctrl_c(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # a cancelled CI job stops the experiment as Ctrl-C does


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate_like_ctrl_c)
    sys.exit(main())
