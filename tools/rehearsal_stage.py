"""The rehearsal's stage: the example app synthesized at a step's version (with the CDK CLI, or `python app.py`),
the emulator's clients, the handler and the local CloudFormation that sends it events, and what Lambda and the
claims in SSM hold now (a target's config, every config of some functions, a config's owner)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import emulator
from cloudformation import ResponseServer, new_stack_id
from config_lines import FUNCTION_ARN, function_of
from local_cloud import LocalCloudFormation
from local_function import LocalFunction, handler_asset
from synth_messages import Message, assembly_messages, printed
from template import CONFIG_TYPE, Resolver

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT / "handler"))  # the claims, read as the handler reads them
from contract import parse_function_name  # noqa: E402
from lambda_api import Api, Deadline  # noqa: E402
from records import Records  # noqa: E402
from settings import Target  # noqa: E402

STACK = "AsyncInvokeConfigExample"
TEAM = "AsyncInvokeConfigTeamDefaults"
VERSIONS = {STACK: "example:version", TEAM: "team:version"}  # the context key that picks a stack's version
NATIVE_TYPE = "AWS::Lambda::EventInvokeConfig"


class Stage:
    def __init__(self, endpoint: str, workdir: Path, synth: str = "cli", stack: str = STACK) -> None:
        self.endpoint = endpoint
        self.workdir = workdir
        self.synth_with = synth
        self.stack_name = stack
        self.stack_id = new_stack_id(stack)
        self.synths = 0
        self.cloud: LocalCloudFormation | None = None
        self.server = ResponseServer(self.stack_id)
        self.handler: LocalFunction | None = None
        self.printed: tuple[Message | str, ...] = ()  # what the last synth printed: its warnings, mostly
        self.synth_command = ""

    def client(self, service: str) -> Any:
        return emulator.client(self.endpoint, service)

    # The app and CloudFormation's side

    def synth(self, version: int) -> tuple[Path, dict[str, Any]]:
        self.synths += 1
        outdir = self.workdir / f"{self.stack_name}.cdk.out.{self.synths}"
        env = os.environ | {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
        key = VERSIONS[self.stack_name]
        selected = [] if self.stack_name == STACK else [self.stack_name]  # the example's report shows the app's
        if self.synth_with == "cli":
            cdk = str(ROOT / "node_modules" / ".bin" / "cdk")
            command = [cdk, "synth", *selected, "--no-notices", "--quiet", "-c", f"{key}={version}", "-o", str(outdir)]
            self.synth_command = " ".join(["cdk synth", *selected, f"-c {key}={version}"])
        else:
            context = json.dumps({key: str(version)})
            command, env = [sys.executable, "app.py"], env | {"CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": context}
            self.synth_command = f"python app.py (context {key}={version})"
        result = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
        messages = printed(result.stderr) if self.synth_with == "cli" else assembly_messages(outdir)
        self.printed = tuple(
            m for m in messages if not selected or not isinstance(m, Message) or m.path.split("/")[0] in selected
        )
        return outdir, json.loads((outdir / f"{self.stack_name}.template.json").read_text())

    def start(self, outdir: Path, template: dict[str, Any]) -> None:
        """The handler of the synthesized asset, and the local CloudFormation that sends it the stack's events."""
        self.handler = LocalFunction(handler_asset(outdir, template), self.endpoint, self.server.url)
        self.cloud = LocalCloudFormation(self.client, self.handler, self.server, self.stack_id)

    def __enter__(self) -> Stage:
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

    # What is live now

    def live(self, physical_id: str) -> dict[str, Any] | None:
        """The config Lambda has now for a target; none for a function the stack deleted (the emulator keeps
        functions, and their configs with them; on AWS both are gone)."""
        if self.deleted(physical_id):
            return None
        lam = self.client("lambda")
        try:
            return dict(lam.get_function_event_invoke_config(FunctionName=physical_id))
        except lam.exceptions.ResourceNotFoundException:
            return None

    def deleted(self, physical_id: str) -> bool:
        """Whether the stack deleted the target's function (its config, on AWS, went with it)."""
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
        names |= self.own_functions()
        for resource in (template or {}).get("Resources", {}).values():
            properties = resource.get("Properties") or {}
            value = properties.get("Function") or properties.get("FunctionName")
            if resource["Type"] not in (CONFIG_TYPE, NATIVE_TYPE) or value is None:
                continue
            with contextlib.suppress(KeyError, IndexError, TypeError, ValueError):  # a function not created yet
                names.add(parse_function_name(str(self.resolver().resolve(value)))[0])
        return names

    def own_functions(self) -> set[str]:
        """The names of the functions the stack has now."""
        return {r.physical_id for r in self.stack.resources.values() if r.resource_type == "AWS::Lambda::Function"}

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
