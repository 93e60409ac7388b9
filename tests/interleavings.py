"""The interleaving suite's harness: stacks synthesized once per scenario and deployed under a seeded scheduler by
the concurrent local CloudFormation (tools/concurrent_cloud.py), each schedule on functions of its own, and the
invariants that must hold after any schedule, a group's member counting as a config resource of its own, owned as
`<group logical id>/<key>` and held while the group's current properties list it:

- never two owners: at most one claim of a config names a resource that still holds it;
- no claim without a resource: every claim names a resource that holds the config (but the stale claims a scenario
  leaves on purpose, by retaining a resource);
- no resource without its claim: every config resource (and every group member) a stack holds is named by a claim;
- every live config is as its owner declares, or, when none owns it, as it was found (or as a retained resource
  left it)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aws_cdk as cdk
from async_invoke_config import AsyncInvokeConfig, groups
from cloudformation import ResponseServer, new_stack_id
from concurrent_cloud import ConcurrentCloudFormation
from contract import GROUP_TYPE, claim_name, is_config_arn, member_owner
from inprocess import play
from local_cloud import Deployment
from natives import create_function
from records import decode
from scheduler import Scheduler
from settings import Settings, Target, from_api, from_properties, members_of
from template import ACCOUNT, CONFIG_TYPE, REGION

TOKEN = "async-invoke-config:deploy-token"
PLACEHOLDER = "zqfunction"  # a function name in a synthesized template, replaced by each schedule's own
Build = Callable[[cdk.Stack], None]
_templates: dict[str, dict[str, Any]] = {}


def template(key: str, build: Build, capacity: int | None = None) -> dict[str, Any]:
    """The template `build` synthesizes (once per key), without the deploy-time drift check: the suite is about the
    configs' own events. `capacity` lowers the members a group may carry, so that a few configs make several
    groups."""
    if key not in _templates:
        app = cdk.App(context={TOKEN: "interleavings"})
        stack = cdk.Stack(app, "Stack")
        build(stack)
        AsyncInvokeConfig.configure_drift_check(stack, on_deploy=False)
        bound = groups.CAPACITY
        groups.CAPACITY = capacity or bound
        try:
            _templates[key] = app.synth().get_stack_by_name("Stack").template
        finally:
            groups.CAPACITY = bound
    return _templates[key]


def seeds(count: int) -> list[int]:
    """Seeds 1 to `count`, or those `INTERLEAVING_SEEDS` names, or `INTERLEAVING_SCHEDULES` from
    `INTERLEAVING_FIRST_SEED`."""
    chosen = os.environ.get("INTERLEAVING_SEEDS")
    if chosen:
        return [int(seed) for seed in chosen.split(",")]
    first = int(os.environ.get("INTERLEAVING_FIRST_SEED", "1"))
    return list(range(first, first + int(os.environ.get("INTERLEAVING_SCHEDULES", count))))


def named(value: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """A template with each placeholder function name (`zqfunction0`, ...) replaced by the schedule's."""
    text = json.dumps(value)
    for placeholder in sorted(names, key=len, reverse=True):
        text = text.replace(placeholder, names[placeholder])
    result: dict[str, Any] = json.loads(text)
    return result


def arn(function: str, qualifier: str = "$LATEST") -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}:{qualifier}"


def holdings(stack: ConcurrentCloudFormation) -> dict[str, tuple[str, Settings]]:
    """The configs a stack holds now, by owner: a config resource with its config's ARN as physical id, and each
    member of a group, owned as `<group>/<key>`; a resource counts once no event of it is under way."""
    held: dict[str, tuple[str, Settings]] = {}
    for key, resource in stack.resources.items():
        if not resource.status.endswith("_COMPLETE"):
            continue
        if resource.resource_type == CONFIG_TYPE and is_config_arn(resource.physical_id):
            held[key] = (resource.physical_id, from_properties(resource.properties).settings)
        elif resource.resource_type == GROUP_TYPE:
            for member, declared in members_of(resource.properties).items():
                held[member_owner(key, member)] = (declared.target.arn(stack.stack_id), declared.settings)
    return held


@dataclass
class World:
    """One schedule: its scheduler, the emulator, the functions it made and how each config was found."""

    seed: int
    aws: Any
    scheduler: Scheduler
    server: ResponseServer
    duplicates: float = 0.2
    names: dict[str, str] = field(default_factory=dict)
    found: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    stacks: dict[str, ConcurrentCloudFormation] = field(default_factory=dict)
    stale: set[str] = field(default_factory=set)  # configs a scenario leaves with a stale claim on purpose

    def functions(self, count: int, *, existing: dict[int, dict[str, Any]] | None = None, missing: int = 0) -> None:
        """`count` functions of this schedule (`zqfunction0`...), some with a config made before (found), and
        `missing` names of functions that do not exist (their configs fail)."""
        lam = self.aws.client("lambda")
        for index in range(count + missing):
            name = f"s{self.seed}-{uuid.uuid4().hex[:8]}-{index}"  # not seeded: unique to this run, for the emulator
            self.names[f"{PLACEHOLDER}{index}"] = name
            if index >= count:
                continue
            create_function(lam, name)
            config = (existing or {}).get(index)
            if config is not None:
                lam.put_function_event_invoke_config(FunctionName=name, **config)
            self.found[name] = config

    def stack(self, name: str) -> ConcurrentCloudFormation:
        if name not in self.stacks:
            stack_id = new_stack_id(f"{name}{self.seed}")
            self.stacks[name] = ConcurrentCloudFormation(
                self.aws.client, self.scheduler, self.server, stack_id, self.aws.endpoint, self.duplicates
            )
        return self.stacks[name]

    def deploy(self, *deploys: tuple[str, dict[str, Any] | None]) -> list[Deployment]:
        """Deploy (a template) or destroy (None) stacks, all at once."""
        operations = []
        deployments = []
        for name, body in deploys:
            stack = self.stack(name)
            deployment, operation = (
                stack.deploy_operation(named(body, self.names)) if body is not None else stack.destroy_operation()
            )
            deployments.append(deployment)
            operations.append(operation)
        play(self.scheduler, *operations)
        self.scheduler.raise_errors()
        return deployments

    # The invariants

    def claims(self, function: str) -> list[Any]:
        """Every claim of the config, its first and those that succeeded it."""
        ssm = self.aws.client("ssm")
        base = claim_name(arn(function))
        found = []
        try:
            parameter = ssm.get_parameter(Name=base)["Parameter"]
            found.append(decode(parameter["Value"], parameter["Version"]))
        except ssm.exceptions.ParameterNotFound:
            pass
        for parameter in ssm.get_parameters_by_path(Path=base, Recursive=True)["Parameters"]:
            found.append(decode(parameter["Value"], parameter["Version"]))
        return found

    def held(self) -> dict[tuple[str, str], tuple[str, Settings]]:
        """Every config the stacks hold now, by owner (stack id, logical id, or `<group>/<key>` for a group's member):
        the config's ARN and the settings its owner declares."""
        return {
            (stack.stack_id, owner): holding
            for stack in self.stacks.values()
            for owner, holding in holdings(stack).items()
        }

    def live(self, function: str) -> dict[str, Any] | None:
        lam = self.aws.client("lambda")
        try:
            return lam.get_function_event_invoke_config(FunctionName=function, Qualifier="$LATEST")
        except lam.exceptions.ResourceNotFoundException:
            return None

    def check(self) -> None:
        problems = []
        held = self.held()
        for function, found in self.found.items():
            config = arn(function)
            claims = [(claim, (claim.owner.stack_id, claim.owner.logical_id)) for claim in self.claims(function)]
            owners = [(claim, held[owner][1]) for claim, owner in claims if held.get(owner, ("", None))[0] == config]
            if len(owners) > 1:
                problems.append(f"{function}: two owners: {[str(claim.owner) for claim, _ in owners]}")
            if function not in self.stale:
                named = {owner for claim, owner in claims if held.get(owner, ("", None))[0] == config}
                problems += [
                    f"{function}: a claim without its resource: {c.owner}" for c, o in claims if o not in named
                ]
            problems += [
                f"{function}: {stack_id.split('/')[1]}/{owner} holds it with no claim"
                for (stack_id, owner), (held_arn, _) in held.items()
                if held_arn == config and (stack_id, owner) not in {o for _, o in claims}
            ]
            live = self.live(function)
            settings = from_api(live) if live is not None else None
            if owners:
                claim, declared = owners[0]
                if claim.declared != declared or settings != declared:
                    problems.append(f"{function}: owned, declared {declared}, claim {claim.declared}, live {settings}")
            elif function not in self.stale:
                expected = from_api(found) if found is not None else None
                if settings != expected:
                    problems.append(f"{function}: no owner; found {expected}, live {settings}")
        assert not problems, f"seed {self.seed}: " + "; ".join(problems) + "\n" + "\n".join(self.scheduler.trace[-40:])
        for stack in self.stacks.values():
            assert stack.denied() == [], f"seed {self.seed}: denied {stack.denied()[:5]}"

    def target(self, placeholder: str) -> Target:
        return Target(self.names[placeholder], "$LATEST")


def world(aws: Any, server: ResponseServer, seed: int, duplicates: float = 0.25) -> World:
    return World(seed, aws, Scheduler(seed), server, duplicates)
