"""The example app's whole life cycle, rehearsed against LocalStack as CloudFormation would drive it.

    .venv/bin/python tools/rehearsal.py        (or scripts/rehearse, which sets up first)

Synthesizes app.py (each step's version of it), starts the emulator, and plays each deploy as CloudFormation does:
update phase in dependency order, cleanup phase, rollbacks with their own cleanup, every call the handler makes
checked against the handler role's policy as synthesized for that step. Steps: deploy (a config adopted), an
out-of-band change, the read-only drift report as a CI job runs it (`python -m async_invoke_config drift`),
a redeploy with no code change (the drift check corrects it), a change of settings (an Update,
and the Delete of a replaced physical id), a correction that fails and the rollback, a rename, a removal, an adoption
rolled back, a migration from the native resource (a function's own async settings) in two deploys, and a destroy;
then a second stack, the team's defaults over fifty functions (rehearsal_team.py): deploy, a change out of band to
two configs, the drift report, a redeploy that puts back those two, three functions left out, and destroy.
Each step prints the events and a table of each config: declared, live before, live after, and the owner its record
names.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import emulator
from rehearsal_scenario import EXPECTED, Rehearsal
from rehearsal_team import TEAM_EXPECTED, TeamRehearsal
from step_report import WIDTH, Step, legend


def main() -> int:
    running = emulator.start()
    steps: list[Step] = []
    try:
        with tempfile.TemporaryDirectory() as workdir:
            print(f"LocalStack at {running.endpoint}\n")
            print("\n".join(legend()), end="\n\n")
            for scenario in (Rehearsal, TeamRehearsal):
                with scenario(running.endpoint, Path(workdir)) as rehearsal:
                    print(stack_line(rehearsal.stage.stack_id), end="\n\n")
                    for run_step in rehearsal.steps():
                        steps.append(run_step())
                        print(steps[-1].render(), end="\n\n", flush=True)
    finally:
        running.stop()
    statuses = [step.status for step in steps]
    denied = [call for step in steps if step.deployment for call in step.deployment.denied]
    calls = sum(len(sent.calls) for step in steps if step.deployment for sent in step.deployment.sent)
    surprises = [step.title.split(".")[0] for step in steps if step.surprises]
    ok = statuses == EXPECTED + TEAM_EXPECTED and not denied and not surprises
    checked = f"{calls} handler calls checked against the policy, {len(denied)} denied"
    if ok:
        print(f"rehearsal: every step ended as expected; {checked}")
    else:
        print(f"rehearsal: unexpected: {statuses}; steps with surprises: {surprises or 'none'}; {checked}")
    return 0 if ok else 1


def stack_line(stack_id: str) -> str:
    """The stack's id; if it does not fit the width, its last part (a uuid) on a line of its own."""
    head, _, uuid = stack_id.rpartition("/")
    line = f"stack {stack_id}"
    return line if len(line) <= WIDTH else f"stack {head}/\n  {uuid}"


if __name__ == "__main__":
    sys.exit(main())
