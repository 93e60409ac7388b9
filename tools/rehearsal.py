"""The example app's whole life cycle, rehearsed against LocalStack as CloudFormation would drive it.

    .venv/bin/python tools/rehearsal.py        (or scripts/rehearse, which sets up first)

Synthesizes app.py, starts the emulator, creates what the template refers to, and replays: deploy (Create events),
an out-of-band change made through the API, a redeploy with no code change (the drift check corrects it), a change of
settings (Update, and the Delete of a replaced physical id), a correction that fails and the rollback that follows,
and a destroy (Delete). Each step prints the events sent and a table of each config: declared, live before, live
after. The handler runs from the synthesized asset, answering through a local stand-in for the presigned URL.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import emulator
from cloudformation import ResponseServer, new_stack_id
from local_cloud import (
    CONFIG_TYPE,
    Deployment,
    LocalCloudFormation,
    LocalFunction,
    Template,
    create_function,
    handler_asset,
)

ROOT = Path(__file__).resolve().parent.parent
STACK = "AsyncInvokeConfigExample"
LEGACY = "legacy-billing"
Clients = Callable[[str], Any]


@dataclass
class Row:
    logical_id: str
    target: str
    declared: str
    before: str
    after: str


@dataclass
class Step:
    title: str
    status: str
    events: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    declared: dict[str, dict[str, Any]] = field(default_factory=dict)
    live_after: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    deployment: Deployment | None = None

    def render(self) -> str:
        lines = [f"== {self.title}: {self.status}"]
        lines += [f"   {event}" for event in self.events] or ["   (no events: nothing in the template changed)"]
        widths = [max(len(getattr(row, name)) for row in [HEADER, *self.rows]) for name in COLUMNS]
        for row in [HEADER, *self.rows]:
            cells = (getattr(row, name).ljust(width) for name, width in zip(COLUMNS, widths, strict=True))
            lines.append("   " + "  ".join(cells))
        return "\n".join(lines)


COLUMNS = ("logical_id", "target", "declared", "before", "after")
HEADER = Row("config", "function:qualifier", "declared", "live before", "live after")


def short(arn: str | None) -> str:
    return arn.split(":")[-1].split("/")[-1] if arn else "-"


def describe(settings: dict[str, Any] | None) -> str:
    """A config's settings on one line; the same for declared properties and API responses (same keys)."""
    if settings is None:
        return "(no config)"
    destinations = settings.get("DestinationConfig") or {}
    parts = [
        f"retry={settings.get('MaximumRetryAttempts', '-')}",
        f"age={settings.get('MaximumEventAgeInSeconds', '-')}",
        f"success={short((destinations.get('OnSuccess') or {}).get('Destination'))}",
        f"failure={short((destinations.get('OnFailure') or {}).get('Destination'))}",
    ]
    return " ".join(parts)


def settings_of(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """The comparable part of a config, as declared or as read: numbers as numbers, empty destinations dropped."""
    if config is None:
        return None
    destinations = config.get("DestinationConfig") or {}
    kept = {half: part["Destination"] for half, part in destinations.items() if part and part.get("Destination")}
    return {
        "MaximumRetryAttempts": None
        if config.get("MaximumRetryAttempts") is None
        else int(config["MaximumRetryAttempts"]),
        "MaximumEventAgeInSeconds": None
        if config.get("MaximumEventAgeInSeconds") is None
        else int(config["MaximumEventAgeInSeconds"]),
        "Destinations": kept,
    }


class Rehearsal:
    def __init__(self, endpoint: str, workdir: Path, synth: str = "cli") -> None:
        self.endpoint = endpoint
        self.workdir = workdir
        self.synth_with = synth
        self.stack_id = new_stack_id(STACK)
        self.synths = 0
        self.cloud: LocalCloudFormation | None = None
        self.template: dict[str, Any] = {}
        self.server = ResponseServer(self.stack_id)
        self.handler: LocalFunction | None = None

    def client(self, service: str) -> Any:
        return emulator.client(self.endpoint, service)

    # The app and CloudFormation's side

    def synth(self) -> tuple[Path, dict[str, Any]]:
        self.synths += 1
        outdir = self.workdir / f"cdk.out.{self.synths}"
        env = os.environ | {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
        if self.synth_with == "cli":
            command = [
                str(ROOT / "node_modules" / ".bin" / "cdk"),
                "synth",
                "--no-notices",
                "--quiet",
                "-o",
                str(outdir),
            ]
        else:
            command, env = [sys.executable, "app.py"], env | {"CDK_OUTDIR": str(outdir)}
        subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
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

    def configs(self) -> dict[str, str]:
        """Logical id -> physical id (the qualified function ARN) of every config deployed now."""
        return {
            key: resource.physical_id
            for key, resource in self.stack.deployed.items()
            if resource.resource_type == CONFIG_TYPE
        }

    def live(self, physical_id: str) -> dict[str, Any] | None:
        lam = self.client("lambda")
        try:
            return dict(lam.get_function_event_invoke_config(FunctionName=physical_id))
        except lam.exceptions.ResourceNotFoundException:
            return None

    def _step(self, title: str, action: Callable[[], Deployment | None]) -> Step:
        targets = self.configs()
        declared = {key: resource.properties for key, resource in self.stack.deployed.items()}
        before = {key: self.live(physical) for key, physical in targets.items()}
        deployment = action()
        targets = targets | self.configs()
        after = {key: self.live(physical) for key, physical in targets.items()}
        declared |= {key: resource.properties for key, resource in self.stack.deployed.items()}
        step = Step(
            title,
            deployment.status if deployment else "(no deploy)",
            declared=declared,
            live_after=after,
            deployment=deployment,
        )
        for sent in deployment.sent if deployment else []:
            data = sent.answer.get("Data") or {}
            detail = ", ".join(f"{k}={v}" for k, v in data.items() if v) or sent.answer.get("Reason", "")
            step.events.append(f"{sent.request:<6} {sent.logical_id:<36} {sent.status:<7} {detail}"[:400])
        for key, physical in targets.items():
            step.rows.append(
                Row(
                    key,
                    physical.split(":function:")[-1],
                    describe(declared.get(key)),
                    describe(before.get(key)),
                    describe(after.get(key)),
                )
            )
        return step

    # The steps

    def deploy(self) -> Step:
        create_function(self.client("lambda"), LEGACY)
        lam = self.client("lambda")
        version = lam.publish_version(FunctionName=LEGACY)["Version"]
        with contextlib.suppress(lam.exceptions.ResourceConflictException):
            lam.create_alias(FunctionName=LEGACY, Name="blue", FunctionVersion=version)
        self.client("sqs").create_queue(QueueName="legacy-billing-dlq")
        outdir, self.template = self.synth()
        resources = Template(self.template, self.client, self.stack_id)
        resources.provision()
        self.handler = LocalFunction(handler_asset(outdir, self.template), self.endpoint)
        self.cloud = LocalCloudFormation(resources, self.handler, self.server)
        return self._step("1. deploy (Create events)", lambda: self.stack.deploy(self.template))

    def drifted_config(self) -> str:
        """The logical id of the config the out-of-band change hits: the one with both destinations."""
        return next(
            key
            for key, resource in self.stack.deployed.items()
            if "OnSuccess" in resource.properties.get("DestinationConfig", {})
        )

    def change_out_of_band(self) -> Step:
        physical = self.configs()[self.drifted_config()]

        def console_edit() -> None:
            self.client("lambda").put_function_event_invoke_config(FunctionName=physical, MaximumRetryAttempts=2)

        return self._step("2. out-of-band change through the API (someone in the console)", console_edit)

    def redeploy_unchanged(self) -> Step:
        _, self.template = self.synth()
        return self._step(
            "3. redeploy, no code change (the drift check corrects it)", lambda: self.stack.deploy(self.template)
        )

    def change_settings(self) -> Step:
        _, self.template = self.synth()
        self.template = changed_settings(self.template)
        return self._step(
            "4. change of settings (Update; a new qualifier replaces a physical id)",
            lambda: self.stack.deploy(self.template),
        )

    def fail_and_roll_back(self) -> Step:
        lam = self.client("lambda")
        lam.update_function_event_invoke_config(FunctionName=LEGACY, Qualifier="blue", MaximumRetryAttempts=0)
        lam.delete_alias(FunctionName=LEGACY, Name="blue")
        _, self.template = self.synth()
        self.template = changed_settings(self.template)
        step = self._step(
            "5. console edit, then the alias deleted out of band; redeploy: the correction fails, the stack rolls back",
            lambda: self.stack.deploy(self.template),
        )
        lam.create_alias(
            FunctionName=LEGACY, Name="blue", FunctionVersion=lam.publish_version(FunctionName=LEGACY)["Version"]
        )
        return step

    def destroy(self) -> Step:
        return self._step("6. destroy (Delete events)", self.stack.destroy)

    def run(self) -> list[Step]:
        return [
            self.deploy(),
            self.change_out_of_band(),
            self.redeploy_unchanged(),
            self.change_settings(),
            self.fail_and_roll_back(),
            self.destroy(),
        ]


def changed_settings(template: dict[str, Any]) -> dict[str, Any]:
    """The next version of the app, as a code change would make it: the alias config retries twice, and the legacy
    config moves to the function's `blue` alias (a new physical id, so CloudFormation deletes the old one)."""
    changed = copy.deepcopy(template)
    for resource in changed["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] != CONFIG_TYPE:
            continue
        if properties.get("Qualifier") == "live":
            properties["MaximumRetryAttempts"] = 2
        if properties.get("FunctionName") == LEGACY:
            properties["FunctionName"] = f"{LEGACY}:blue"
    return changed


def main() -> int:
    running = emulator.start()
    try:
        with tempfile.TemporaryDirectory() as workdir, Rehearsal(running.endpoint, Path(workdir)) as rehearsal:
            print(f"LocalStack at {running.endpoint}; stack {rehearsal.stack_id}\n")
            steps = []
            for run_step in (
                rehearsal.deploy,
                rehearsal.change_out_of_band,
                rehearsal.redeploy_unchanged,
                rehearsal.change_settings,
                rehearsal.fail_and_roll_back,
                rehearsal.destroy,
            ):
                steps.append(run_step())
                print(steps[-1].render(), end="\n\n", flush=True)
    finally:
        running.stop()
    expected = [
        "CREATE_COMPLETE",
        "(no deploy)",
        "UPDATE_COMPLETE",
        "UPDATE_COMPLETE",
        "UPDATE_ROLLBACK_COMPLETE",
        "DELETE_COMPLETE",
    ]
    ok = [step.status for step in steps] == expected
    print("rehearsal:", "every step ended as expected" if ok else f"unexpected: {[s.status for s in steps]}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
