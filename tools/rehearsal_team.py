"""The rehearsal's second stack: a team's defaults over fifty functions (app.py's TeamDefaultsStack at versions 1 and
2), their configs carried by one group, through deploy, a change out of band to two of them, the drift report, a
redeploy with no code change, three functions left out of the defaults, and destroy. Each step must end in its
status and with the group's configs as the scenario expects; what does not is the step's `surprises`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from local_cloud import Deployment
from rehearsal_fleet import Fleet
from rehearsal_record import Played
from rehearsal_scenario import drift_report
from rehearsal_stage import TEAM, Stage
from step_report import Step

CHANGED = ("Worker07", "Worker23")  # changed out of band, as someone in the console would
LEFT_OUT = ("Worker12", "Worker30", "Worker45")  # app.py's WORKERS_LEFT_OUT: left out of the defaults at version 2
CLEANUP = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"


class TeamRehearsal(Played):
    """The team stack's steps, on a stage of their own; `steps()` in order, each returning its report."""

    def __init__(self, endpoint: str, workdir: Path, synth: str = "cli") -> None:
        super().__init__(Stage(endpoint, workdir, synth, stack=TEAM))

    def _take(
        self,
        title: str,
        action: Callable[[], Deployment | None],
        template: dict[str, object] | None,
        expect: Callable[[Fleet], list[str]],
        note: str = "",
    ) -> Step:
        """One step, its group's configs counted, and where they did not end as `expect` says."""
        fleet = Fleet.start(self.stage)
        step = self.recorder.take(title, action, template)
        step.fleet = fleet.finish(self.stage, step.deployment)
        step.surprises = expect(step.fleet) + step.surprises
        step.notes += [note] if note else []
        return step

    def _deploy(self, title: str, version: int, expect: Callable[[Fleet], list[str]], note: str = "") -> Step:
        _, template = self.stage.synth(version)
        return self._take(title, lambda: self.stage.stack.deploy(template), template, expect, note)

    def function(self, logical_id: str) -> str:
        """The name of one of the stack's functions, by the id its construct has in app.py."""
        (name,) = [
            r.physical_id
            for key, r in self.stage.stack.resources.items()
            if r.resource_type == "AWS::Lambda::Function" and key[: -len("0123ABCD")] == logical_id
        ]
        return name

    def targets(self, *logical_ids: str) -> set[str]:
        return {f"{self.function(logical_id)}:$LATEST" for logical_id in logical_ids}

    # The steps

    def deploy(self) -> Step:
        outdir, template = self.stage.synth(1)
        self.stage.start(outdir, template)

        def expect(fleet: Fleet) -> list[str]:
            created = _only_written(fleet, set(fleet.after), "Put")
            return (
                _every("in line", fleet, fleet.in_line) + _every("owned by its group", fleet, _owned(fleet)) + created
            )

        return self._take(
            "13. the team's defaults over 50 worker functions more: 52 configs, carried by one group (Create)",
            lambda: self.stage.stack.deploy(template),
            template,
            expect,
            "The group carries the defaults' configs: Ingest's, its alias live's and the 50 workers'. Notify's own "
            "config wins over the defaults (a resource of its own: its block); Lookup is left out, and exempt.",
        )

    def change_out_of_band(self) -> Step:
        first, second = (self.function(logical_id) for logical_id in CHANGED)
        changed = self.targets(*CHANGED)

        def console_edits() -> None:
            lam = self.stage.client("lambda")
            lam.update_function_event_invoke_config(FunctionName=first, MaximumRetryAttempts=2)
            lam.put_function_event_invoke_config(  # a Put replaces: the on-failure destination is gone
                FunctionName=second, MaximumRetryAttempts=1, MaximumEventAgeInSeconds=3600
            )

        return self._take(
            f"14. out-of-band change to 2 of them through the API ({', '.join(CHANGED)}: retries 2; no destination)",
            console_edits,
            None,
            lambda fleet: _every("in line but the 2 changed", fleet, lambda t: fleet.in_line(t) != (t in changed)),
        )

    def drift_report(self) -> Step:
        changed = self.targets(*CHANGED)
        step = drift_report(
            self.recorder, "14b. drift report in CI: `python -m async_invoke_config drift --stack NAME`"
        )
        step.notes.append(
            "The report reads the stack's config resources (here NotifyAsync, a function's own config) and the configs "
            "its groups carry, found by their claims: the 2 changed above are drifted, and it exits 1. The group's "
            "Update at the next deploy puts them back, as below."
        )
        missing = [target for target in changed if not any(target.split(":")[0] in line for line in step.report)]
        step.surprises += [f"the report does not list {target}, a group's config changed" for target in missing]
        return step

    def redeploy_unchanged(self) -> Step:
        changed = self.targets(*CHANGED)
        return self._deploy(
            "15. redeploy, no code change: the group's Update reads each config and puts back the 2 changed",
            1,
            lambda fleet: _every("in line", fleet, fleet.in_line) + _only_written(fleet, changed),
        )

    def leave_out(self) -> Step:
        left = self.targets(*LEFT_OUT)

        def expect(fleet: Fleet) -> list[str]:
            claimed = _every("claimed, but the 3 left out", fleet, lambda t: _owned(fleet)(t) != (t in left))
            deleted = _only_written(fleet, left, "Delete", CLEANUP)
            return _every("in line (the 3 left out: none)", fleet, fleet.in_line) + deleted + claimed

        return self._deploy(
            f"16. {', '.join(LEFT_OUT)} left out of the defaults (`exclude=`): their configs go in the cleanup",
            2,
            expect,
        )

    def destroy(self) -> Step:
        return self._take(
            "17. destroy the team stack: the group's Delete gives back every config it carries",
            self.stage.stack.destroy,
            None,
            lambda fleet: _every("without config and claim", fleet, _gone(fleet)),
            "The group's configs are read in the emulator, which keeps the functions the stack deleted: the group's "
            "Delete deleted each config (the group created them all; none was found live, to be put back) and its "
            "claim, before CloudFormation deleted the functions.",
        )

    def steps(self) -> list[Callable[[], Step]]:
        return [
            self.deploy,
            self.change_out_of_band,
            self.drift_report,
            self.redeploy_unchanged,
            self.leave_out,
            self.destroy,
        ]


TEAM_EXPECTED = [
    "CREATE_COMPLETE",
    "(no deploy)",
    "exit code 1",
    "UPDATE_COMPLETE",
    "UPDATE_COMPLETE",
    "DELETE_COMPLETE",
]


def _owned(fleet: Fleet) -> Callable[[str], bool]:
    """Whether a config's claim names its group (a member's owner: `<group>/<key>`)."""

    def owned(target: str) -> bool:
        member = fleet.after.get(target) or fleet.before[target]
        return fleet.owners[target].startswith(f"{member.group}/")

    return owned


def _gone(fleet: Fleet) -> Callable[[str], bool]:
    """Whether a config has neither a live config nor a claim after the step."""
    return lambda target: fleet.live_after[target] is None and fleet.owners[target] == "(no record)"


def _every(what: str, fleet: Fleet, holds: Callable[[str], bool]) -> list[str]:
    """A surprise naming the configs for which `holds` is false, if any."""
    wrong = [target for target in fleet.targets if not holds(target)]
    return [f"not every config is {what}: {', '.join(wrong[:5])}{' ...' if len(wrong) > 5 else ''}"] if wrong else []


def _only_written(fleet: Fleet, targets: set[str], verb: str = "", phase: str = "") -> list[str]:
    """A surprise unless the step wrote each of `targets` once and nothing else (with `verb`, in `phase`, if given)."""
    once = sorted(target for _, _, target in fleet.written) == sorted(targets)
    if once and all((not verb or v == verb) and (not phase or p == phase) for p, v, _ in fleet.written):
        return []
    shown = "; ".join(f"{v} {target} in {p}" for p, v, target in fleet.written[:6]) or "nothing"
    how = " ".join(part for part in (verb, f"in {phase}" if phase else "") if part)
    return [f"expected one write{f' ({how})' if how else ''} to each of {len(targets)} configs, no other; got {shown}"]
