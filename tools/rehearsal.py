"""The example app's whole life cycle, rehearsed against LocalStack as CloudFormation would drive it.

    .venv/bin/python tools/rehearsal.py        (or scripts/rehearse, which sets up first)

Synthesizes app.py (each step's version of it), starts the emulator, and plays each deploy as CloudFormation does:
update phase in dependency order, cleanup phase, rollbacks with their own cleanup, every call the handler makes
checked against the handler role's policy as synthesized for that step. Steps: deploy (a config adopted), an
out-of-band change, the read-only drift report as a CI job runs it (`python -m async_invoke_config drift`),
a redeploy with no code change (the drift check corrects it), a change of settings (an Update,
and the Delete of a replaced physical id), a correction that fails and the rollback, a rename, a removal, an adoption
rolled back, a migration from the native resource (a function's own async settings) in two deploys, and a destroy.
Each step prints the events and a table of each config: declared, live before, live after, and the owner its record
names.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import emulator
import iam
from cloudformation import ResponseServer, new_stack_id
from local_cloud import Deployment, LocalCloudFormation
from local_function import LocalFunction, handler_asset
from natives import create_function
from template import ACCOUNT, CONFIG_TYPE, REGION, Resolver

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT / "handler"))  # the claims, read as the handler reads them
from contract import parse_function_name  # noqa: E402
from lambda_api import Api, Deadline  # noqa: E402
from records import Records  # noqa: E402
from settings import Target  # noqa: E402

STACK = "AsyncInvokeConfigExample"
LEGACY = "legacy-billing"
REPORTS = "legacy-reports"
WIDTH = 120
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
NATIVE_TYPE = "AWS::Lambda::EventInvokeConfig"


@dataclass
class Row:
    """One config resource's physical config in a step (a replaced config has two: the old target, then the new)."""

    logical_id: str
    target: str
    declared: str
    before: str
    after: str
    owner: str
    physical_id: str = ""


@dataclass
class Step:
    title: str
    status: str
    events: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    declared: dict[str, dict[str, Any]] = field(default_factory=dict)
    live_after: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    deployment: Deployment | None = None
    notes: list[str] = field(default_factory=list)
    checks: str = ""
    synth: list[str] = field(default_factory=list)  # what the synth printed, when it differs from the last shown
    report: list[str] = field(default_factory=list)  # a command's output, shown as printed where it fits

    def render(self) -> str:
        """The step in lines of at most WIDTH columns: its events, what they mean, and each config in a block."""
        lines = wrap(f"== {self.title}: {self.status}", "", "   ")
        for line in self.synth:
            lines += wrap(line.lstrip(" "), " " * (3 + len(line) - len(line.lstrip(" "))), " " * 9)
        for event in self.events or ["(no events: nothing in the template changed)"]:
            lines += wrap(event, "   ", " " * (12 if event.startswith("  ") else 6))
        if self.report:
            title, *table = self.report
            lines += wrap(title, "   ", "      ")
            for line in fit_table(table, WIDTH - 3):
                cells = re.match(r"\s*\S+\s+", line)  # a cell too long goes on under the next one
                lines += wrap(line, "   ", " " * (3 + (cells.end() if cells else 0)))
        lines += wrap(self.checks, "   ", "        ") if self.checks else []
        for note in self.notes:
            lines += wrap(note, "   > ", "     ")
        for row in self.rows:
            lines += wrap(f"{row.logical_id} on {row.target}; record's owner: {row.owner}", "   ", "      ")
            for label, value in (("declared", row.declared), ("live before", row.before), ("live after", row.after)):
                lines += wrap(f"{label:<11}  {value}", "      ", " " * 19)
        return "\n".join(lines)


def wrap(text: str, indent: str, subsequent: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=subsequent, break_on_hyphens=False) or [
        indent.rstrip()
    ]


def target_of(physical_id: str) -> str:
    """A config's target as `function:qualifier`."""
    return physical_id.split(":function:")[-1]


def function_of(physical_id: str) -> str:
    return target_of(physical_id).split(":")[0]


def short(arn: str | None) -> str:
    return arn.split(":")[-1].split("/")[-1] if arn else "-"


def api_shape(config: dict[str, Any]) -> dict[str, Any]:
    """A config's declared properties in the API's shape (as responses, and declarations of earlier versions, have it):
    `RetryAttempts`, `MaxEventAge` and `OnSuccess: ARN` (handler/contract.py) as `MaximumRetryAttempts`, ...,
    `DestinationConfig: {OnSuccess: {Destination: ARN}}`."""
    current = ("RetryAttempts", "MaxEventAge", "OnSuccess", "OnFailure")
    if "DestinationConfig" in config or not any(key in config for key in current):
        return config
    shaped = {
        name: config[key]
        for key, name in (("RetryAttempts", "MaximumRetryAttempts"), ("MaxEventAge", "MaximumEventAgeInSeconds"))
        if key in config
    }
    halves = {half: {"Destination": config[half]} for half in ("OnSuccess", "OnFailure") if config.get(half)}
    return shaped | ({"DestinationConfig": halves} if halves else {})


def describe(settings: dict[str, Any] | None) -> str:
    """A config's settings on one line; the same for declared properties and API responses."""
    if settings is None:
        return "(none)"
    settings = api_shape(settings)
    destinations = settings.get("DestinationConfig") or {}
    success = short((destinations.get("OnSuccess") or {}).get("Destination"))
    failure = short((destinations.get("OnFailure") or {}).get("Destination"))
    return (
        f"r={settings.get('MaximumRetryAttempts', '-')} a={settings.get('MaximumEventAgeInSeconds', '-')} "
        f"ok={success} fail={failure}"
    )


def settings_of(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """The comparable part of a config, as declared or as read: numbers as numbers, empty destinations dropped."""
    if config is None:
        return None
    config = api_shape(config)
    destinations = config.get("DestinationConfig") or {}
    kept = {half: part["Destination"] for half, part in destinations.items() if part and part.get("Destination")}
    numbers = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds")
    return {key: None if config.get(key) is None else int(config[key]) for key in numbers} | {"Destinations": kept}


def events(deployment: Deployment | None, template: dict[str, Any] | None) -> list[str]:
    """Each event CloudFormation sent the handler and its answer, under the stack status it was sent in, and where the
    deploy failed: the failing resource and its reason, before the rollback's events."""
    if deployment is None:
        return []
    lines: list[str] = []
    width = max((len(sent.logical_id) for sent in deployment.sent), default=0)
    phase, failure = "", failed(deployment, template)
    for sent in deployment.sent:
        if failure and "ROLLBACK" in sent.phase:
            lines, failure = [*lines, failure], ""
        if sent.phase != phase:
            lines.append(f"stack {sent.phase}")
            phase = sent.phase
        data = sent.answer.get("Data") or {}
        detail = ", ".join(f"{k}={str(v).replace(',', ', ')}" for k, v in data.items() if v and k != "FunctionArn")
        reason = detail or sent.answer.get("Reason", "")
        lines.append(f"  {sent.request:<6} {sent.logical_id:<{width}}  {sent.status:<7}  {reason}".rstrip())
        lines += [f"  DENIED {action} on {resource}" for action, resource in sent.denied]
    return lines + ([failure] if failure else [])


def failed(deployment: Deployment, template: dict[str, Any] | None) -> str:
    """Where and why a deploy failed, as CloudFormation's events say it: the first resource that failed."""
    if not deployment.failure:
        return ""
    logical_id, _, reason = deployment.failure.partition(": ")
    kind = "create" if deployment.status.startswith("ROLLBACK") else "update"
    if any(sent.logical_id == logical_id and sent.status == "FAILED" for sent in deployment.sent):
        return f"the stack's {kind} failed at {logical_id} (the reason above); CloudFormation rolls it back"
    resource_type = ((template or {}).get("Resources", {}).get(logical_id) or {}).get("Type", "")
    reason = reason.removeprefix(f"{resource_type} {logical_id}: ")
    return f"the stack's {kind} failed at {logical_id} ({resource_type}): {reason}; CloudFormation rolls it back"


def checks(deployment: Deployment | None) -> str:
    """How many calls the handler made in a step, each checked against the handler role's policy then."""
    calls = [verdict for sent in (deployment.sent if deployment else []) for _, _, verdict in sent.calls]
    line = f"IAM: {len(calls)} handler calls checked against the policy, {calls.count(iam.DENIED)} denied"
    if calls.count(iam.PROPAGATING):
        line += f", {calls.count(iam.PROPAGATING)} refused while a new grant propagated (and retried)"
    return line + ("" if deployment else " (no deploy: the handler did not run)")


@dataclass(frozen=True)
class Message:
    """An annotation the synth printed: its level (WARNING, INFO, ERROR), the construct's path, the text and how to
    acknowledge it."""

    level: str
    path: str
    text: str
    acknowledge: str = ""


LOCATION = re.compile(r"\S+:\d+:\d+")  # where in the app's (JavaScript) code an annotation was added
ANNOTATION = re.compile(r"(?P<level>WARNING|INFO|ERROR) (?P<text>.*?)(?: \(Construct Annotations\))?")
LEVELS = {"aws:cdk:warning": "WARNING", "aws:cdk:info": "INFO", "aws:cdk:error": "ERROR"}


def printed(stderr: str) -> tuple[Message | str, ...]:
    """What the CDK CLI printed on synth, as messages and other lines (a notice), less where it wrote the cloud
    assembly, the stack ids it lists and each annotation's place in the compiled code (a temporary folder's)."""
    found: list[Message | str] = []
    parts: list[str] = []  # the annotation being read: level, text, then its indented lines
    for line in [*stderr.splitlines(), ""]:
        if LOCATION.fullmatch(line.strip()):
            continue
        if parts and line.startswith(" ") and line.strip():
            parts.append(line.strip())
            continue
        if parts:
            acknowledge = next(
                (part.removeprefix("Acknowledge with ") for part in parts[2:] if part.startswith("Ack")), ""
            )
            path = next((part for part in parts[2:] if not part.startswith("Ack")), "")
            found.append(Message(parts[0], path, parts[1], acknowledge))
            parts = []
        annotation = ANNOTATION.fullmatch(line)
        if annotation is not None:
            parts = [annotation["level"], annotation["text"]]
        elif line.strip() and not line.startswith(("Successfully synthesized to ", "Supply a stack id")):
            found.append(line.strip())
    return tuple(found)


def assembly_messages(outdir: Path) -> tuple[Message | str, ...]:
    """The messages a synth without the CLI (`python app.py`) leaves in the cloud assembly, as the CLI prints them."""
    found: list[Message | str] = []
    for metadata in sorted(outdir.glob("*.metadata.json")):
        for path, entries in json.loads(metadata.read_text()).items():
            for entry in entries:
                if entry["type"] in LEVELS:
                    text, _, acknowledge = str(entry["data"]).partition(" [ack: ")
                    acknowledge = f"'Annotation::{acknowledge.removesuffix(']')}'" if acknowledge else ""
                    found.append(Message(LEVELS[entry["type"]], path.lstrip("/"), text, acknowledge))
    return tuple(found)


def synth_lines(
    command: str, messages: tuple[Message | str, ...], shown: tuple[Message | str, ...] | None
) -> list[str]:
    """What a synth printed (its warnings, mostly), or, when the report showed an earlier synth's, what changed."""
    if shown is None:
        lines, marks = (
            [f"{command} printed {len(messages)} messages:" if messages else f"{command} printed nothing"],
            {},
        )
    else:
        new = tuple(message for message in messages if message not in shown)
        places = {(m.level, m.path) for m in new if isinstance(m, Message)}
        gone = [
            m for m in shown if m not in messages and (not isinstance(m, Message) or (m.level, m.path) not in places)
        ]
        kept = len(messages) - len(new)
        lines = [f"{command}: the synth's messages changed (the other {kept} as shown before):"]
        lines += [
            f"   no longer printed: {m.level} at {m.path}" if isinstance(m, Message) else f"   no longer: {m}"
            for m in gone
        ]
        old = {(m.level, m.path) for m in shown if isinstance(m, Message)}
        marks = {m: "changed" if (m.level, m.path) in old else "new" for m in new if isinstance(m, Message)}
        messages = new
    for message in messages:
        if isinstance(message, str):
            lines.append(f"   {message}")
            continue
        mark = f" ({marks[message]})" if message in marks else ""
        lines.append(f"   {message.level} at {message.path}{mark}: {message.text}")
        lines += [f"      acknowledge with {message.acknowledge}"] if message.acknowledge else []
    return lines


def fit_table(table: list[str], room: int) -> list[str]:
    """A table's lines as printed if they fit in `room` columns; otherwise its first columns as a table, and each of
    the others under each row, by its header (the columns start where their header does, as in the drift report)."""
    if not table or max(len(line) for line in table) <= room:
        return table
    header, *rows = table
    starts = [match.start() for match in re.finditer(r"\S+", header)]
    names = header.split()
    keep = next(
        (n for n in range(len(starts) - 1, 0, -1) if all(len(line[: starts[n]].rstrip()) <= room for line in table)), 1
    )
    width = max(len(name) for name in names[keep:])
    lines = [header[: starts[keep]].rstrip()]
    for row in rows:
        lines.append(row[: starts[keep]].rstrip())
        for column in range(keep, len(starts)):
            cell = row[starts[column] : starts[column + 1] if column + 1 < len(starts) else None].strip()
            lines.append(f"    {names[column]:<{width}}  {cell}")
    note = f"(the table is {max(len(line) for line in table)} columns wide: its columns from `{names[keep]}` on are "
    return [*lines, note + "shown under each row)"]


LEGEND = [
    "How to read each step:",
    "- its events: each one CloudFormation sent the handler (request, logical id, status, what the handler did or "
    "why it failed), under the stack status it was sent in, and where a deploy failed, the resource and its reason;",
    "- IAM: how many calls the handler made in the step, each checked against the handler role's policy as "
    "synthesized for that step, and how many that policy denied;",
    "- a block per config the step concerns (declared before or after it, or sent an event in it): its logical id, "
    "its target (function:qualifier), its record's owner (the resource its claim in SSM names; (borrowed): the config "
    "was found live and is put back as found when that resource goes; (no record): no claim; (native resource): an "
    "AWS::Lambda::EventInvokeConfig, which keeps none), then what the template declares and what Lambda had live "
    "before and after the step;",
    "- settings: r= retry attempts, a= maximum event age in seconds, ok= on-success destination, fail= on-failure "
    "destination (by name); - not set; (none) no config.",
]


def legend() -> list[str]:
    return [line for entry in LEGEND for line in wrap(entry, "", "  ")]


class Rehearsal:
    def __init__(self, endpoint: str, workdir: Path, synth: str = "cli") -> None:
        self.endpoint = endpoint
        self.workdir = workdir
        self.synth_with = synth
        self.stack_id = new_stack_id(STACK)
        self.synths = 0
        self.cloud: LocalCloudFormation | None = None
        self.server = ResponseServer(self.stack_id)
        self.handler: LocalFunction | None = None
        self.natives: set[str] = set()  # the logical ids of the native configs deployed so far
        self.printed: tuple[Message | str, ...] = ()  # what the last synth printed: its warnings, mostly
        self.shown: tuple[Message | str, ...] | None = None  # what the report last showed of it
        self.synth_command = ""

    def client(self, service: str) -> Any:
        return emulator.client(self.endpoint, service)

    # The app and CloudFormation's side

    def synth(self, version: int) -> tuple[Path, dict[str, Any]]:
        self.synths += 1
        outdir = self.workdir / f"cdk.out.{self.synths}"
        env = os.environ | {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
        if self.synth_with == "cli":
            cdk = str(ROOT / "node_modules" / ".bin" / "cdk")
            command = [cdk, "synth", "--no-notices", "--quiet", "-c", f"example:version={version}", "-o", str(outdir)]
        else:
            context = json.dumps({"example:version": str(version)})
            command, env = [sys.executable, "app.py"], env | {"CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": context}
        result = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
        self.printed = printed(result.stderr) if self.synth_with == "cli" else assembly_messages(outdir)
        self.synth_command = f"cdk synth -c example:version={version}"
        if self.synth_with != "cli":
            self.synth_command = f"python app.py (context example:version={version})"
        return outdir, json.loads((outdir / f"{STACK}.template.json").read_text())

    def __enter__(self) -> Rehearsal:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.handler:
            self.handler.__exit__()
        self.server.__exit__()

    @property
    def stack(self) -> LocalCloudFormation:
        assert self.cloud is not None, "deploy first"
        return self.cloud

    def live(self, physical_id: str, read_deleted: bool = False) -> dict[str, Any] | None:
        """The config Lambda has now for a target; none for a function the stack deleted (the emulator keeps
        functions, and their configs with them; on AWS both are gone), unless `read_deleted`."""
        if self.deleted(physical_id) and not read_deleted:
            return None
        lam = self.client("lambda")
        try:
            return dict(lam.get_function_event_invoke_config(FunctionName=physical_id))
        except lam.exceptions.ResourceNotFoundException:
            return None

    def deleted(self, physical_id: str) -> bool:
        return self.cloud is not None and function_of(physical_id) in self.cloud.gone

    def snapshot(self, functions: set[str]) -> dict[str, dict[str, Any] | None]:
        """Every config of these functions now, by qualified function ARN (a config's physical id), read before a step
        so that a target a step comes to (a new one, or one a config moves to) shows what was live there before."""
        lam = self.client("lambda")
        found: dict[str, dict[str, Any] | None] = {}
        for name in sorted(functions):
            found[f"{FUNCTION_ARN}{name}"] = None  # read: a target of it not listed has no config
            if self.cloud is not None and name in self.cloud.gone:
                continue
            try:
                for page in lam.get_paginator("list_function_event_invoke_configs").paginate(FunctionName=name):
                    found |= {config["FunctionArn"]: dict(config) for config in page["FunctionEventInvokeConfigs"]}
            except lam.exceptions.ResourceNotFoundException:
                continue
        return found

    def functions(self, declared: dict[str, tuple[str, dict[str, Any]]], template: dict[str, Any] | None) -> set[str]:
        """The functions a step may touch: those of the configs declared now, the stack's own, and those the
        template about to be deployed names (by name, ARN or a reference to a resource the stack has)."""
        names = {function_of(physical) for physical, _ in declared.values()}
        names |= {r.physical_id for r in self.stack.resources.values() if r.resource_type == "AWS::Lambda::Function"}
        for resource in (template or {}).get("Resources", {}).values():
            properties = resource.get("Properties") or {}
            value = properties.get("Function") or properties.get("FunctionName")
            if resource["Type"] not in (CONFIG_TYPE, NATIVE_TYPE) or value is None:
                continue
            with contextlib.suppress(KeyError, IndexError, TypeError, ValueError):  # a function not created yet
                names.add(parse_function_name(str(self.resolver().resolve(value)))[0])
        return names

    def resolver(self) -> Resolver:
        return Resolver(self.stack.resources, self.stack_id, self.server.exports)

    def owner(self, physical_id: str) -> str:
        """The resource the config's claim names (and whether it borrowed the config), or (no record)."""
        reader = Records(Api(self.client("ssm"), Deadline.after(60)), new_stack_id("Reader"))
        record = reader.find(Target.of_arn(physical_id)).record
        if record is None:
            return "(no record)"
        return record.owner.logical_id + (" (borrowed)" if record.prior is not None else "")

    def declared(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """Every config the template declares, AsyncInvokeConfig's and native ones (AWS::Lambda::EventInvokeConfig,
        the handler's own aside): logical id -> (the config's qualified function ARN, its declared properties)."""
        natives = {
            key: (f"{FUNCTION_ARN}{r.properties['FunctionName']}:{r.properties['Qualifier']}", r.properties)
            for key, r in self.stack.native_configs().items()
        }
        return {key: (r.physical_id, r.properties) for key, r in self.stack.configs().items()} | natives

    def _step(
        self, title: str, action: Callable[[], Deployment | None], template: dict[str, Any] | None = None
    ) -> Step:
        """Run one step and report it: the events sent, and a block for each config the step concerns (declared
        before or after it, or sent an event in it), on each target it had in the step."""
        was = self.declared()
        functions = self.functions(was, template)
        before = self.snapshot(functions)
        deployment = action()
        self.natives |= set(self.stack.native_configs())
        now = self.declared()
        step = Step(
            title,
            deployment.status if deployment else "(no deploy)",
            declared={key: properties for key, (_, properties) in now.items()},
            deployment=deployment,
        )
        targets: dict[str, list[str]] = {}  # logical id -> its targets in the step, oldest first
        sent_targets = [
            (sent.logical_id, sent.answer.get("PhysicalResourceId", ""))
            for sent in (deployment.sent if deployment else [])
        ]
        for key, physical in [
            *((k, p) for k, (p, _) in was.items()),
            *sent_targets,
            *((k, p) for k, (p, _) in now.items()),
        ]:
            if ":function:" in physical and physical not in targets.setdefault(key, []):
                targets[key].append(physical)
        for key, physicals in targets.items():
            for physical in physicals:
                after = self.live(physical)
                owner = "(native resource)" if key in self.natives else self.owner(physical)
                left = self.deleted(physical) and self.live(physical, read_deleted=True) is not None
                step.rows.append(
                    Row(
                        key,
                        target_of(physical),
                        self._declared_text(key, physical, was, now, template),
                        self._before_text(physical, before, functions),
                        "(none: its function was deleted with the stack)" if left else describe(after),
                        owner,
                        physical,
                    )
                )
                step.live_after[key], step.owners[key] = after, owner
        step.events = events(deployment, template)
        step.checks = checks(deployment)
        if template is not None and self.printed != self.shown:
            step.synth = synth_lines(self.synth_command, self.printed, self.shown)
            self.shown = self.printed
        return step

    def _before_text(self, physical: str, before: dict[str, dict[str, Any] | None], functions: set[str]) -> str:
        """What was live on a target before the step: read then, or none on a function the stack created in it."""
        if physical in before:
            return describe(before[physical])
        if f"{FUNCTION_ARN}{function_of(physical)}" in before:
            return "(none)"
        made = {r.physical_id for r in self.stack.resources.values() if r.resource_type == "AWS::Lambda::Function"}
        return "(none: its function is new)" if function_of(physical) in made - functions else "(not read)"

    def _declared_text(
        self,
        key: str,
        physical: str,
        was: dict[str, tuple[str, dict[str, Any]]],
        now: dict[str, tuple[str, dict[str, Any]]],
        template: dict[str, Any] | None,
    ) -> str:
        """What the template declares for this target: its settings, or why it declares none (any longer)."""
        if key in now:
            target, properties = now[key]
            return describe(properties) if target == physical else f"(replaced: {key} is now on {target_of(target)})"
        if key in was:
            return "(the stack is deleted)" if self.stack.status == "DELETE_COMPLETE" else "(removed from the template)"
        tried: dict[str, Any] | None = None
        with contextlib.suppress(KeyError, IndexError, TypeError, ValueError):
            tried = self.resolver().resolve((template or {})["Resources"][key].get("Properties", {}))
        return f"{describe(tried) if tried else ''} (in the template tried; rolled back, not in the stack)".lstrip()

    def _deploy(self, title: str, version: int, alter: Callable[[dict[str, Any]], None] | None = None) -> Step:
        _, template = self.synth(version)
        if alter is not None:
            alter(template)
        return self._step(title, lambda: self.stack.deploy(template), template)

    # The steps

    def deploy(self) -> Step:
        lam = self.client("lambda")
        create_function(lam, LEGACY)
        version = lam.publish_version(FunctionName=LEGACY)["Version"]
        with contextlib.suppress(lam.exceptions.ResourceConflictException):
            lam.create_alias(FunctionName=LEGACY, Name="blue", FunctionVersion=version)
        for qualifier in ("$LATEST", "blue"):  # configs retained by an earlier run on this emulator: start clean
            with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
                lam.delete_function_event_invoke_config(FunctionName=LEGACY, Qualifier=qualifier)
        self.client("sqs").create_queue(QueueName="legacy-billing-dlq")
        outdir, template = self.synth(1)
        self.handler = LocalFunction(handler_asset(outdir, template), self.endpoint, self.server.url)
        self.cloud = LocalCloudFormation(self.client, self.handler, self.server, self.stack_id)
        return self._step("1. deploy (Create events)", lambda: self.stack.deploy(template), template)

    def drifted_config(self) -> str:
        """The logical id of the config the out-of-band change hits: the one with both destinations."""
        return next(
            key
            for key, resource in self.stack.configs().items()
            if "OnSuccess" in api_shape(resource.properties).get("DestinationConfig", {})
        )

    def change_out_of_band(self) -> Step:
        physical = self.stack.configs()[self.drifted_config()].physical_id

        def console_edit() -> None:
            self.client("lambda").put_function_event_invoke_config(FunctionName=physical, MaximumRetryAttempts=2)

        return self._step("2. out-of-band change through the API (someone in the console)", console_edit)

    def drift_report(self) -> Step:
        """The read-only drift report as a CI job runs it, in a process of its own: exit code 1, the drifted config."""
        env = os.environ | {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ENDPOINT_URL_CLOUDFORMATION": self.server.url,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": emulator.REGION,
            "PYTHONPATH": str(ROOT / "constructs"),
        }
        command = [sys.executable, "-m", "async_invoke_config", "drift", "--stack", STACK]
        result = subprocess.run(command, cwd=self.workdir, env=env, capture_output=True, text=True, check=False)
        step = self._step("2b. drift report in CI: `python -m async_invoke_config drift --stack NAME`", lambda: None)
        step.status = f"exit code {result.returncode}"
        step.events = [f"$ python -m async_invoke_config drift --stack {STACK}"]
        step.report = result.stdout.splitlines() + result.stderr.splitlines()
        return step

    def redeploy_unchanged(self) -> Step:
        return self._deploy("3. redeploy, no code change (the drift check corrects it)", 1)

    def change_settings(self) -> Step:
        return self._deploy("4. change of settings (Update; the legacy config moves to an alias: replaced)", 2)

    def fail_and_roll_back(self) -> Step:
        lam = self.client("lambda")
        lam.update_function_event_invoke_config(FunctionName=LEGACY, Qualifier="blue", MaximumRetryAttempts=0)
        lam.delete_alias(FunctionName=LEGACY, Name="blue")
        step = self._deploy("5. console edit, then the alias deleted out of band: the correction fails, rollback", 2)
        step.notes.append(
            f"{LEGACY}:blue, the alias, is gone. The drift check still reads a config for it (the emulator keeps the "
            "config of a deleted alias: the live columns), finds it drifted, and its correction, a Put to "
            f'{LEGACY}:blue, is refused: "The function doesn\'t exist.", the function being the alias. The check '
            "fails the deploy naming that config, and CloudFormation rolls the stack back; the rollback's check "
            "changes nothing (Checked=0). The alias is created again before the next step."
        )
        lam.create_alias(
            FunctionName=LEGACY, Name="blue", FunctionVersion=lam.publish_version(FunctionName=LEGACY)["Version"]
        )
        return step

    def rename(self) -> Step:
        return self._deploy("6. rename: the alias config moves into a construct (new logical id); config kept", 3)

    def remove(self) -> Step:
        return self._deploy("7. removal: the alias config leaves the app; the cleanup deletes it", 4)

    def adopt_and_roll_back(self) -> Step:
        lam = self.client("lambda")
        create_function(lam, REPORTS)
        lam.put_function_event_invoke_config(FunctionName=REPORTS, MaximumRetryAttempts=2, MaximumEventAgeInSeconds=900)

        def failing(template: dict[str, Any]) -> None:
            template["Resources"]["Unreachable"] = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "bad name!"}}

        return self._deploy(
            "8. adopt legacy-reports' console config while another resource fails: put back as found", 5, failing
        )

    def add_native(self) -> Step:
        return self._deploy("9. the shipping function's config comes from its own props (a native resource)", 6)

    def migrate_retain(self) -> Step:
        return self._deploy(
            "10. migration, deploy 1 of 2: the native config gets RemovalPolicy.RETAIN, nothing else", 7
        )

    def migrate_swap(self) -> Step:
        return self._deploy(
            "11. migration, deploy 2 of 2: AsyncInvokeConfig adopts it; the cleanup retains the native config",
            8,
        )

    def destroy(self) -> Step:
        return self._step("12. destroy (Delete events; the retained config stays)", self.stack.destroy)

    def run(self) -> list[Step]:
        return [step() for step in self.steps()]

    def steps(self) -> list[Callable[[], Step]]:
        return [
            self.deploy,
            self.change_out_of_band,
            self.drift_report,
            self.redeploy_unchanged,
            self.change_settings,
            self.fail_and_roll_back,
            self.rename,
            self.remove,
            self.adopt_and_roll_back,
            self.add_native,
            self.migrate_retain,
            self.migrate_swap,
            self.destroy,
        ]


EXPECTED = [
    "CREATE_COMPLETE",
    "(no deploy)",
    "exit code 1",
    "UPDATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_COMPLETE",
    "DELETE_COMPLETE",
]


def main() -> int:
    running = emulator.start()
    try:
        with tempfile.TemporaryDirectory() as workdir, Rehearsal(running.endpoint, Path(workdir)) as rehearsal:
            print(f"LocalStack at {running.endpoint}\nstack {rehearsal.stack_id}\n")
            print("\n".join(legend()), end="\n\n")
            steps = []
            for run_step in rehearsal.steps():
                steps.append(run_step())
                print(steps[-1].render(), end="\n\n", flush=True)
    finally:
        running.stop()
    statuses = [step.status for step in steps]
    denied = [call for step in steps if step.deployment for call in step.deployment.denied]
    calls = sum(len(sent.calls) for step in steps if step.deployment for sent in step.deployment.sent)
    ok = statuses == EXPECTED and not denied
    checked = f"{calls} handler calls checked against the policy, {len(denied)} denied"
    print("rehearsal:", f"every step ended as expected; {checked}" if ok else f"unexpected: {statuses}; {checked}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
