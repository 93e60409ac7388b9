"""`python -m async_invoke_config claims` and `release`, against the emulator and the local CloudFormation: a claim
left by a stack deleted with its config resource retained is listed as stale, and released only when asked (and a
live owner's only with --force); a deploy then claims the config afresh."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import boto3
import iam
from async_invoke_config import cli
from stack_harness import Policed, retained
from test_drift_report import readme_policy
from test_scenarios import config, ok

# The policy the README gives an operator's role for `claims` and `release` (account and region of the emulator).
CLAIMS = "arn:aws:ssm:us-east-1:000000000000:parameter/async-invoke-config/000000000000/us-east-1"
OPERATOR_POLICY: list[dict[str, Any]] = [
    {"Effect": "Allow", "Action": "ssm:GetParametersByPath", "Resource": [CLAIMS, f"{CLAIMS}/*"]},
    {"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:DeleteParameter"], "Resource": f"{CLAIMS}/*"},
    {
        "Effect": "Allow",
        "Action": ["cloudformation:DescribeStacks", "cloudformation:DescribeStackResource"],
        "Resource": "arn:aws:cloudformation:us-east-1:000000000000:stack/*/*",
    },
]


@dataclass
class Run:
    code: int
    out: str
    err: str
    calls: list[str]


def command(h: Any, monkeypatch: Any, *argv: str, own_session: bool = True) -> Run:
    for key, value in {
        "AWS_ENDPOINT_URL": h.aws.endpoint,
        "AWS_ENDPOINT_URL_CLOUDFORMATION": h.server.url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    calls: list[str] = []
    session = boto3.Session() if own_session else None
    if session is not None:
        session.events.register("before-call", lambda model, **_: calls.append(model.name))
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), session=session, out=out, err=err)
    return Run(code, out.getvalue(), err.getvalue(), calls)


def stale(h: Any, name: str) -> tuple[str, str]:
    """A function whose config's claim names a stack deleted with the config resource retained; and that stack's
    id."""
    function = h.function(name)
    ok(h.deploy(name.title(), retained(lambda s: config(s, "Config", function, retry_attempts=0))), "CREATE_COMPLETE")
    gone = h.stacks.pop(name.title())
    assert gone.cloud.destroy().status == "DELETE_COMPLETE"
    return function, gone.cloud.stack_id


def test_claims_lists_a_stale_claim_and_exits_1(h, monkeypatch):
    function, gone = stale(h, "listed")
    live = h.function("listed-live")
    ok(h.deploy("Living", lambda s: config(s, "Config", live)), "CREATE_COMPLETE")

    both = command(h, monkeypatch, "claims", "--json")
    one = command(h, monkeypatch, "claims", "--function", live)
    text = command(h, monkeypatch, "claims", "--function", function)

    assert both.code == 1, both.err
    listed = {chain["function"]: chain for chain in json.loads(both.out)}
    (claim,) = listed[function]["claims"]
    assert claim["owner_stack_id"] == gone and claim["stale"] and claim["reason"] == "its stack was deleted"
    assert not listed[live]["claims"][0]["stale"]
    assert one.code == 0 and live in one.out and "none stale" in one.out
    assert text.code == 1 and "stale: its stack was deleted" in text.out.splitlines()[-1]
    assert all(call.startswith(("Get", "Describe")) for run in (both, one, text) for call in run.calls)


def test_release_says_what_it_would_do_then_releases_with_yes(h, monkeypatch):
    function, _ = stale(h, "released")

    dry = command(h, monkeypatch, "release", "--function", function)
    assert dry.code == 0 and dry.out.startswith("would release") and h.record(function) is not None
    assert "DeleteParameter" not in dry.calls
    done = command(h, monkeypatch, "release", "--function", function, "--yes")

    assert done.code == 0, done.err
    assert h.record(function) is None
    assert h.live(function) == {"MaximumRetryAttempts": 0}  # the config itself is left as it was
    again = command(h, monkeypatch, "release", "--function", function, "--yes")
    assert again.code == 1 and "no claim" in again.out


def test_release_leaves_a_live_owners_claim_unless_forced(h, monkeypatch):
    function = h.function("forced")
    ok(h.deploy("Forced", lambda s: config(s, "Config", function)), "CREATE_COMPLETE")

    refused = command(h, monkeypatch, "release", "--function", function, "--yes", "--json")
    forced = command(h, monkeypatch, "release", "--function", function, "--yes", "--force")

    assert refused.code == 1 and "still holds it" in json.loads(refused.out)["result"]
    assert forced.code == 0 and h.record(function) is None
    reclaimed = h.deploy("Forced", lambda s: config(s, "Config", function, max_event_age=cdk.Duration.minutes(5)))
    ok(reclaimed, "UPDATE_COMPLETE")  # its next deploy claims the config again
    assert h.record(function) is not None


def test_an_error_is_one_line_and_exit_code_2(h, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")

    run = command(h, monkeypatch, "claims", own_session=False)

    assert run.code == 2 and run.err.count("\n") == 1 and "no-such-profile" in run.err
    assert run.err.startswith("python -m async_invoke_config claims: ")


def test_the_operator_policy_the_readme_gives_is_enough(h, monkeypatch):
    function, _ = stale(h, "operated")
    world = iam.World(OPERATOR_POLICY)

    listing = io.StringIO()
    listed = cli.main(["claims"], session=Policed(h, world), out=io.StringIO(), err=listing)
    assert listed == 1, listing.getvalue()
    err = io.StringIO()
    released = cli.main(
        ["release", "--function", function, "--yes"], session=Policed(h, world), out=io.StringIO(), err=err
    )

    assert (listed, released) == (1, 0), err.getvalue()
    assert world.denied == []
    assert {action for action, _, _ in world.calls} == {
        "ssm:GetParametersByPath",
        "ssm:DeleteParameter",
        "cloudformation:DescribeStacks",
    }
    assert h.record(function) is None


def test_the_drift_reports_readme_policy_reads_a_config_taken_over_from_a_stale_claim(h):
    function, _ = stale(h, "succeeded")
    ok(h.deploy("Successor", lambda s: config(s, "Config", function, retry_attempts=2)), "CREATE_COMPLETE")
    stack = h.stacks["Successor"].cloud.stack_id.split("/")[1]
    world = iam.World(readme_policy(stack))
    out, err = io.StringIO(), io.StringIO()

    code = cli.main(["drift", "--stack", stack], session=Policed(h, world), out=out, err=err)

    assert (code, err.getvalue()) == (0, ""), out.getvalue()
    assert "1 config, in sync" in out.getvalue() or "all in sync" in out.getvalue(), out.getvalue()
    assert world.denied == []
    assert "ssm:GetParameter" in {action for action, _, _ in world.calls}  # the successor claim, read by name
