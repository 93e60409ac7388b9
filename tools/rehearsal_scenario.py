"""The rehearsal's scenario: the example app's life cycle in thirteen steps, each a deploy of the app at a version
(or a change out of band, or a command run), and the status each step must end in."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import emulator
from config_lines import api_shape
from natives import create_function
from rehearsal_record import Played, Recorder
from rehearsal_stage import ROOT, Stage
from step_report import Step

LEGACY = "legacy-billing"
REPORTS = "legacy-reports"


class Rehearsal(Played):
    """The steps, played on a stage of their own; `steps()` in order, each returning its report."""

    def __init__(self, endpoint: str, workdir: Path, synth: str = "cli") -> None:
        super().__init__(Stage(endpoint, workdir, synth))

    def _deploy(self, title: str, version: int, alter: Callable[[dict[str, Any]], None] | None = None) -> Step:
        _, template = self.stage.synth(version)
        if alter is not None:
            alter(template)
        return self.recorder.take(title, lambda: self.stage.stack.deploy(template), template)

    # The steps

    def deploy(self) -> Step:
        lam = self.stage.client("lambda")
        create_function(lam, LEGACY)
        version = lam.publish_version(FunctionName=LEGACY)["Version"]
        with contextlib.suppress(lam.exceptions.ResourceConflictException):
            lam.create_alias(FunctionName=LEGACY, Name="blue", FunctionVersion=version)
        for qualifier in ("$LATEST", "blue"):  # configs retained by an earlier run on this emulator: start clean
            with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
                lam.delete_function_event_invoke_config(FunctionName=LEGACY, Qualifier=qualifier)
        self.stage.client("sqs").create_queue(QueueName="legacy-billing-dlq")
        outdir, template = self.stage.synth(1)
        self.stage.start(outdir, template)
        return self.recorder.take("1. deploy (Create events)", lambda: self.stage.stack.deploy(template), template)

    def drifted_config(self) -> str:
        """The logical id of the config the out-of-band change hits: the one with both destinations."""
        return next(
            key
            for key, resource in self.stage.stack.configs().items()
            if "OnSuccess" in api_shape(resource.properties).get("DestinationConfig", {})
        )

    def change_out_of_band(self) -> Step:
        physical = self.stage.stack.configs()[self.drifted_config()].physical_id

        def console_edit() -> None:
            self.stage.client("lambda").put_function_event_invoke_config(FunctionName=physical, MaximumRetryAttempts=2)

        return self.recorder.take("2. out-of-band change through the API (someone in the console)", console_edit)

    def drift_report(self) -> Step:
        """The read-only drift report as a CI job runs it: exit code 1, the drifted config."""
        return drift_report(self.recorder, "2b. drift report in CI: `python -m async_invoke_config drift --stack NAME`")

    def redeploy_unchanged(self) -> Step:
        return self._deploy("3. redeploy, no code change (the drift check corrects it)", 1)

    def change_settings(self) -> Step:
        return self._deploy("4. change of settings (Update; the legacy config moves to an alias: replaced)", 2)

    def fail_and_roll_back(self) -> Step:
        lam = self.stage.client("lambda")
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
        lam = self.stage.client("lambda")
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
        return self.recorder.take("12. destroy (Delete events; the retained config stays)", self.stage.stack.destroy)

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


def drift_report(recorder: Recorder, title: str) -> Step:
    """The read-only drift report of the recorder's stack as a CI job runs it, in a process of its own."""
    stage = recorder.stage
    env = os.environ | {
        "AWS_ENDPOINT_URL": stage.endpoint,
        "AWS_ENDPOINT_URL_CLOUDFORMATION": stage.server.url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": emulator.REGION,
        "PYTHONPATH": str(ROOT / "constructs"),
    }
    command = [sys.executable, "-m", "async_invoke_config", "drift", "--stack", stage.stack_name]
    result = subprocess.run(command, cwd=stage.workdir, env=env, capture_output=True, text=True, check=False)
    step = recorder.take(title, lambda: None)
    step.status = f"exit code {result.returncode}"
    step.events = [f"$ python -m async_invoke_config drift --stack {stage.stack_name}"]
    step.report = result.stdout.splitlines() + result.stderr.splitlines()
    return step


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
