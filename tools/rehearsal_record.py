"""Taking a rehearsal step: what was live before it on every function it may touch, the step run, and a block for
each config it concerns (declared before or after it, or sent an event in it), on each target it had in the step:
what the template declares there, what was live before and after, and the owner its claim names."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Self

from config_lines import FUNCTION_ARN, describe, function_of, target_of
from local_cloud import Deployment
from rehearsal_stage import Stage
from step_report import Row, Step, checks, events
from synth_messages import Message, synth_lines


class Played:
    """A stack's steps, played on a stage of its own and recorded step by step; a context that starts the stage."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.recorder = Recorder(stage)

    def __enter__(self) -> Self:
        self.stage.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stage.__exit__()


class Recorder:
    """The steps of one stage, each reported as a Step; what the report has shown of the synth's messages so far."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.natives: set[str] = set()  # the logical ids of the native configs deployed so far
        self.shown: tuple[Message | str, ...] | None = None  # what the report last showed of the synth's messages

    def take(self, title: str, action: Callable[[], Deployment | None], template: dict[str, Any] | None = None) -> Step:
        """Run one step and report it: the events sent, and a block for each config the step concerns (declared
        before or after it, or sent an event in it), on each target it had in the step."""
        was = self.stage.declared()
        functions = self.stage.functions(was, template)
        before = self.stage.snapshot(functions)
        deployment = action()
        self.natives |= set(self.stage.stack.native_configs())
        now = self.stage.declared()
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
        gone = {physical for physicals in targets.values() for physical in physicals if self.stage.deleted(physical)}
        for key, physicals in targets.items():
            for physical in [physical for physical in physicals if physical not in gone]:
                after = self.stage.live(physical)
                owner = "(native resource)" if key in self.natives else self.stage.owner(physical)
                step.rows.append(
                    Row(
                        key,
                        target_of(physical),
                        self._declared_text(key, physical, was, now, template),
                        self._before_text(physical, before, functions),
                        describe(after),
                        owner,
                        physical,
                    )
                )
                step.live_after[key], step.owners[key] = after, owner
        if gone:
            names = ", ".join(sorted({function_of(physical) for physical in gone}))
            step.notes.append(f"Not listed: the configs of the functions the stack deleted ({names}): gone with them.")
        step.events = events(deployment, template)
        step.checks = checks(deployment)
        if template is not None and self.stage.printed != self.shown:
            step.synth = synth_lines(self.stage.synth_command, self.stage.printed, self.shown)
            self.shown = self.stage.printed
        return step

    def _before_text(self, physical: str, before: dict[str, dict[str, Any] | None], functions: set[str]) -> str:
        """What was live on a target before the step: read then, or none on a function the stack created in it."""
        if physical in before:
            return describe(before[physical])
        if f"{FUNCTION_ARN}{function_of(physical)}" in before:
            return "(none)"
        new = self.stage.own_functions() - functions
        return "(none: its function is new)" if function_of(physical) in new else "(not read)"

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
            deleted = self.stage.stack.status == "DELETE_COMPLETE"
            return "(the stack is deleted)" if deleted else "(removed from the template)"
        tried: dict[str, Any] | None = None
        with contextlib.suppress(KeyError, IndexError, TypeError, ValueError):
            tried = self.stage.resolver().resolve((template or {})["Resources"][key].get("Properties", {}))
        return f"{describe(tried) if tried else ''} (in the template tried; rolled back, not in the stack)".lstrip()
