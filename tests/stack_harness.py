"""Stacks synthesized from code (in process, with aws-cdk-lib) and played against the emulator by the local
CloudFormation, each with its own warm handler process; the live configs and their records read back."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from async_invoke_config import AsyncInvokeConfig
from cloudformation import ResponseServer, new_stack_id
from contract import claims_path
from local_cloud import Deployment, LocalCloudFormation, LocalFunction, Resolver, create_function, handler_asset
from local_cloud import Resource as LocalResource
from plan import Record
from records import decode

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

    def record(self, function: str, qualifier: str = "$LATEST") -> Record | None:
        """The config's record, whichever stack keeps it (there is one at most)."""
        found = self.aws.client("ssm").get_parameters_by_path(Path=claims_path(function, qualifier))["Parameters"]
        assert len(found) <= 1, [parameter["Name"] for parameter in found]
        return decode(found[0]["Value"], found[0]["Version"]) if found else None

    def owner(self, function: str, qualifier: str = "$LATEST") -> tuple[str, str] | None:
        """(stack name, logical id prefix) of the record's owner, or None."""
        record = self.record(function, qualifier)
        if record is None:
            return None
        return record.owner.stack_id.split("/")[1], record.owner.logical_id

    def close(self) -> None:
        for stack in self.stacks.values():
            with contextlib.suppress(Exception):
                stack.handler.__exit__()


@contextlib.contextmanager
def harness(aws: Any, workdir: Path) -> Iterator[Harness]:
    with ResponseServer() as server:
        running = Harness(aws, server, workdir)
        try:
            yield running
        finally:
            running.close()


def synthesized_policy(functions: list[str], stack_id: str) -> list[dict[str, Any]]:
    """The handler role's policy statements as a stack declaring a config for each of `functions` (names in any form)
    synthesizes them, resolved for that stack: every resource given a stand-in physical id."""
    app = cdk.App(context={TOKEN: "fixed"})
    stack = cdk.Stack(app, stack_id.split("/")[1])
    for index, function in enumerate(functions):
        AsyncInvokeConfig(stack, f"Config{index}", function=function, retry_attempts=0)
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
