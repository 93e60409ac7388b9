"""Stacks synthesized from code (in process, with aws-cdk-lib) and played against the emulator by the local
CloudFormation, each with its own warm handler process; the live configs and their records read back."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import aws_cdk as cdk
import emulator
import iam
from async_invoke_config import AsyncInvokeConfig
from cloudformation import ResponseServer, new_stack_id
from lambda_api import Api, Deadline
from local_cloud import Deployment, LocalCloudFormation
from local_function import LocalFunction, handler_asset
from natives import create_function
from plan import Record
from records import Link, Records
from settings import Target
from template import Resolver
from template import Resource as LocalResource

Build = Callable[[cdk.Stack], None]
TOKEN = "async-invoke-config:deploy-token"


@dataclass
class Stack:
    name: str
    cloud: LocalCloudFormation
    handler: LocalFunction


class Harness:
    def __init__(self, aws: Any, server: ResponseServer, workdir: Path) -> None:
        self.aws = aws
        self.server = server
        self.workdir = workdir
        self.stacks: dict[str, Stack] = {}
        self.suffix = uuid.uuid4().hex[:8]

    def name(self, prefix: str) -> str:
        """A name unique to this run, for functions the emulator keeps between tests."""
        return f"{prefix}-{self.suffix}"

    def function(self, prefix: str) -> str:
        name = self.name(prefix)
        create_function(self.aws.client("lambda"), name)
        return name

    def synth(self, stack_name: str, build: Build, token: str | None = None) -> tuple[Path, dict[str, Any]]:
        outdir = self.workdir / f"{stack_name}.{uuid.uuid4().hex[:8]}"
        app = cdk.App(outdir=str(outdir), context={TOKEN: token or uuid.uuid4().hex})
        build(cdk.Stack(app, stack_name))
        return outdir, app.synth().get_stack_by_name(stack_name).template

    def deploy(self, stack_name: str, build: Build, *, alter: Callable[[dict], None] | None = None) -> Deployment:
        """Synthesize `build` and deploy it (the stack's first deploy creates it); `alter` edits the template."""
        outdir, template = self.synth(stack_name, build)
        if alter is not None:
            alter(template)
        stack = self.stacks.get(stack_name)
        if stack is None:
            handler = LocalFunction(handler_asset(outdir, template), self.aws.endpoint, self.server.url)
            stack = Stack(
                stack_name,
                LocalCloudFormation(self.aws.client, handler, self.server, new_stack_id(stack_name)),
                handler,
            )
            self.stacks[stack_name] = stack
        return stack.cloud.deploy(template)

    def deploy_app(self, build: Callable[[cdk.App], None], *names: str) -> dict[str, Deployment]:
        """Synthesize an app of several stacks and deploy `names` in that order (a stack before those that import
        from it), each as a stack of its own of the local CloudFormation, their exports shared."""
        outdir = self.workdir / f"app.{uuid.uuid4().hex[:8]}"
        app = cdk.App(outdir=str(outdir), context={TOKEN: uuid.uuid4().hex})
        build(app)
        assembly = app.synth()
        deployed = {}
        for name in names:
            template = assembly.get_stack_by_name(name).template
            stack = self.stacks.get(name)
            if stack is None:
                try:
                    handler = LocalFunction(handler_asset(outdir, template), self.aws.endpoint, self.server.url)
                except LookupError:  # a stack of no config: no handler
                    handler = cast(LocalFunction, None)  # its events never reach a handler
                cloud = LocalCloudFormation(self.aws.client, handler, self.server, new_stack_id(name))
                stack = self.stacks[name] = Stack(name, cloud, handler)
            deployed[name] = stack.cloud.deploy(template)
        return deployed

    def live(self, function: str, qualifier: str = "$LATEST") -> dict[str, Any] | None:
        lam = self.aws.client("lambda")
        try:
            config = lam.get_function_event_invoke_config(FunctionName=function, Qualifier=qualifier)
        except lam.exceptions.ResourceNotFoundException:
            return None
        return {
            key: value for key, value in config.items() if key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds")
        } | {
            half: part["Destination"]
            for half, part in (config.get("DestinationConfig") or {}).items()
            if part and part.get("Destination")
        }

    def claim(self, function: str, qualifier: str = "$LATEST") -> Link:
        """The config's claim that counts: its first claim, or the last of the claims that succeeded it."""
        return claims_of(self.aws.client("ssm")).find(Target(function, qualifier))

    def record(self, function: str, qualifier: str = "$LATEST") -> Record | None:
        """The config's record, whichever stack keeps it."""
        return self.claim(function, qualifier).record

    def owner(self, function: str, qualifier: str = "$LATEST") -> tuple[str, str] | None:
        """(stack name, logical id prefix) of the record's owner, or None."""
        record = self.record(function, qualifier)
        if record is None:
            return None
        return record.owner.stack_id.split("/")[1], record.owner.logical_id

    def close(self) -> None:
        for stack in self.stacks.values():
            with contextlib.suppress(Exception):
                if stack.handler is not None:
                    stack.handler.__exit__()


def claims_of(ssm: Any) -> Records:
    """The claims as any stack of the local account and region reads them (no claim is its own: `find` walks to the
    claim that counts)."""
    return Records(Api(ssm, Deadline.after(60)), "arn:aws:cloudformation:us-east-1:000000000000:stack/Reader/none")


@contextlib.contextmanager
def harness(aws: Any, workdir: Path) -> Iterator[Harness]:
    with ResponseServer() as server:
        running = Harness(aws, server, workdir)
        try:
            yield running
        finally:
            running.close()


def synthesized_policy(functions: list[str] | list[tuple[str, str | None]], stack_id: str) -> list[dict[str, Any]]:
    """The handler role's policy statements as a stack declaring a config for each of `functions` (names in any form,
    or (name, qualifier)) synthesizes them, resolved for that stack: every resource given a stand-in physical id."""
    app = cdk.App(context={TOKEN: "fixed"})
    stack = cdk.Stack(app, stack_id.split("/")[1])
    for index, function in enumerate(functions):
        name, qualifier = function if isinstance(function, tuple) else (function, None)
        AsyncInvokeConfig(stack, f"Config{index}", function=name, qualifier=qualifier, retry_attempts=0)
    template = app.synth().get_stack_by_name(stack.stack_name).template
    stand_ins = {
        key: LocalResource(value["Type"], key, {}, attributes={"Arn": f"arn:aws:stand-in:::{key}"})
        for key, value in template["Resources"].items()
    }
    resolved = Resolver(stand_ins, stack_id).resolve(template["Resources"])
    documents = [
        policy["PolicyDocument"]
        for resource in resolved.values()
        if resource["Type"] == "AWS::IAM::Role"
        for policy in resource["Properties"].get("Policies", [])
    ]
    documents += [
        r["Properties"]["PolicyDocument"] for r in resolved.values() if r["Type"] == "AWS::IAM::ManagedPolicy"
    ]
    return [statement for document in documents for statement in document["Statement"]]


def retained(build: Callable[[cdk.Stack], Any]) -> Callable[[cdk.Stack], None]:
    """The config resources with DeletionPolicy Retain, as an organisation-wide aspect sets it."""

    def keep(stack: cdk.Stack) -> None:
        build(stack)
        for node in stack.node.find_all():
            if isinstance(node, cdk.CfnResource) and node.cfn_resource_type == "Custom::LambdaAsyncInvokeConfig":
                node.apply_removal_policy(cdk.RemovalPolicy.RETAIN)

    return keep


@dataclass
class Policed:
    """A boto3 session stand-in whose clients (but STS's GetCallerIdentity, which needs no grant) are checked
    against `world`'s policy."""

    h: Any
    world: iam.World
    region_name: str = "us-east-1"

    def client(self, service: str, **kwargs: Any) -> Any:
        client = emulator.client(self.h.server.url if service == "cloudformation" else self.h.aws.endpoint, service)
        return client if service == "sts" else iam.install(client, self.world)
