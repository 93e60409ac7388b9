"""The configs a stack's groups carry (`Custom::LambdaAsyncInvokeConfigs`, the defaults' configs), as a rehearsal step
reports them when there are dozens: what the groups declare, what Lambda had live before and after the step, what
the handler wrote and in which stack status, and the owner each claim names; counted, with the configs that stand
out (at most SHOWN of a kind) named."""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import iam
from config_lines import FUNCTION_ARN, describe, settings_of, target_of
from local_cloud import Deployment
from rehearsal_stage import ROOT, Stage
from step_report import wrap

sys.path.append(str(ROOT / "handler"))  # the groups' properties, read as the handler reads them
from contract import (  # noqa: E402
    FUNCTION,
    GROUP_TYPE,
    LATEST,
    MEMBER_SEPARATOR,
    MEMBERS,
    QUALIFIER,
    SHARED,
    member_properties,
    parse_function_name,
)

SHOWN = 5  # configs of one kind named in a line; more are only counted
WRITES = {f"lambda:{verb}FunctionEventInvokeConfig": verb for verb in ("Put", "Update", "Delete")}


@dataclass(frozen=True)
class Member:
    group: str  # the logical id of the group that carries it
    target: str  # function:qualifier
    declared: dict[str, Any]  # its properties, as a config's own resource would hold them


def members(stage: Stage) -> dict[str, Member]:
    """The configs the stack's groups carry now, by target, their functions resolved."""
    found: dict[str, Member] = {}
    for logical_id, resource in (stage.cloud.resources if stage.cloud else {}).items():
        if resource.resource_type != GROUP_TYPE:
            continue
        shared = resource.properties.get(SHARED) or {}
        for key, value in (resource.properties.get(MEMBERS) or {}).items():
            own = member_properties(shared, value, key)
            name, qualifier = parse_function_name(str(own[FUNCTION]))
            target = f"{name}:{own.get(QUALIFIER) or qualifier or LATEST}"
            found[target] = Member(logical_id, target, own)
    return found


def read_live(stage: Stage, targets: Iterable[str]) -> dict[str, dict[str, Any] | None]:
    """The config Lambda holds for each target now, read in the emulator (which keeps the functions a stack deletes:
    what it holds for them is what the handler left)."""
    lam = stage.client("lambda")
    found: dict[str, dict[str, Any] | None] = {}
    for target in targets:
        name, _, qualifier = target.rpartition(":")
        try:
            found[target] = dict(lam.get_function_event_invoke_config(FunctionName=name, Qualifier=qualifier))
        except lam.exceptions.ResourceNotFoundException:
            found[target] = None
    return found


@dataclass
class Fleet:
    """The group-carried configs of one step: declared before and after it, live before and after, written, owned."""

    before: dict[str, Member]
    after: dict[str, Member]
    live_before: dict[str, dict[str, Any] | None]  # every config of the stack's functions before the step
    known: set[str] = field(default_factory=set)  # the stack's functions before the step
    live_after: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)  # target -> the owner its claim names, or (no record)
    written: list[tuple[str, str, str]] = field(default_factory=list)  # (stack status, Put/Update/Delete, target)
    deleted: bool = False  # the stack is deleted

    @classmethod
    def start(cls, stage: Stage) -> Fleet:
        """What the step starts from: the configs carried now, and every config of the stack's functions."""
        functions = stage.own_functions() if stage.cloud else set()
        live: dict[str, dict[str, Any] | None] = {
            target_of(arn): config for arn, config in stage.snapshot(functions).items() if config is not None
        }
        return cls(members(stage), {}, live, functions)

    def finish(self, stage: Stage, deployment: Deployment | None) -> Fleet:
        self.after = members(stage)
        self.deleted = stage.stack.status == "DELETE_COMPLETE"
        targets = self.targets
        self.live_after = read_live(stage, targets)
        self.owners = {target: stage.owner(f"{FUNCTION_ARN}{target}") for target in targets}
        self.written = [
            (sent.phase, WRITES[action], target_of(resource))
            for sent in (deployment.sent if deployment else [])
            for action, resource, verdict in sent.calls
            if action in WRITES and verdict == iam.ALLOWED and target_of(resource) in targets
        ]
        return self

    @property
    def targets(self) -> list[str]:
        return sorted(set(self.before) | set(self.after))

    def in_line(self, target: str) -> bool:
        """Whether the target's live config is as the stack declares it after the step (none, if it declares none)."""
        declared = self.after.get(target)
        return settings_of(self.live_after[target]) == settings_of(declared.declared if declared else None)

    def written_to(self, *verbs: str) -> dict[str, list[str]]:
        """Each target written in the step, and how (in order)."""
        found: dict[str, list[str]] = defaultdict(list)
        for _, verb, target in self.written:
            if not verbs or verb in verbs:
                found[target].append(verb)
        return dict(found)

    def render(self) -> list[str]:
        groups = sorted({m.group for m in [*self.before.values(), *self.after.values()]})
        lines = wrap(
            f"{', '.join(groups)} (a group): {len(self.after)} configs ({len(self.before)} before the step), counted",
            "   ",
            "      ",
        )
        rows = [
            ("declared", self._kinds(self.targets, self._declared)),
            ("live before", self._kinds(self.targets, self._before)),
            ("live after", self._kinds(self.targets, lambda t: self._live(t, self.after, self.live_after))),
            ("written", self._writes()),
            ("claims", self._kinds(self.targets, self._owner)),
        ]
        for label, kinds in rows:
            for index, (count, text) in enumerate(kinds):
                lines += wrap(f"{label if index == 0 else '':<11}  {count:>3}  {text}", "      ", " " * 24)
        return lines

    def _declared(self, target: str) -> str:
        if target in self.after:
            return describe(self.after[target].declared)
        return "(the stack is deleted)" if self.deleted else "(no longer declared: left out of the defaults)"

    def _before(self, target: str) -> str:
        if target.rpartition(":")[0] not in self.known:
            return "(none: its function is new)"
        return self._live(target, self.before, self.live_before)

    @staticmethod
    def _live(target: str, declared: dict[str, Member], live: dict[str, dict[str, Any] | None]) -> str:
        config = live.get(target)
        if target not in declared:
            return "(none)" if config is None else f"{describe(config)}, not declared"
        if settings_of(config) == settings_of(declared[target].declared):
            return "as declared"
        return "(none)" if config is None else f"{describe(config)}, not as declared"

    def _owner(self, target: str) -> str:
        owner = self.owners[target]
        group, separator, _ = owner.partition(MEMBER_SEPARATOR)
        return f"owned by {group}{separator}<member key>" if separator else owner

    def _writes(self) -> list[tuple[int, str]]:
        by_kind: dict[str, list[str]] = defaultdict(list)
        for phase, verb, target in self.written:
            by_kind[f"{verb}, in {phase}"].append(target)
        kinds = [(len(targets), _named(kind, targets)) for kind, targets in by_kind.items()]
        untouched = len(self.targets) - len({target for _, _, target in self.written})
        return kinds + ([(untouched, "not written")] if untouched else [])

    @staticmethod
    def _kinds(targets: list[str], kind_of: Callable[[str], str]) -> list[tuple[int, str]]:
        by_kind: dict[str, list[str]] = defaultdict(list)
        for target in targets:
            by_kind[kind_of(target)].append(target)
        ordered = sorted(by_kind.items(), key=lambda item: -len(item[1]))
        return [(len(found), _named(kind, found)) for kind, found in ordered]


def _named(kind: str, targets: list[str]) -> str:
    return f"{kind}: {', '.join(sorted(targets))}" if len(targets) <= SHOWN else kind
