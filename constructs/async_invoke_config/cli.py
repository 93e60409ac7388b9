"""The operator's commands: the read-only drift report, for a CI job to gate on, and the claims, to find and release
the claims of owners that are gone.

    python -m async_invoke_config drift --stack NAME [--profile P] [--region R] [--json]
    python -m async_invoke_config claims [--function F] [--profile P] [--region R] [--json]
    python -m async_invoke_config release --function F [--qualifier Q] [--force] [--yes] [--profile P] [--region R]

`drift`: one row per config the stack holds: function and qualifier, whether it is in sync, the fields that differ,
what its claim declares and what is live; exit code 0 when every config is in sync, 1 when any drifted (or has no
claim to compare with). `claims`: each config claimed in the account and region, its owner, and whether that owner
still holds it; 0 when none is stale, 1 when some is. `release`: deletes the claim of a config whose owner is gone
(`--force`: whatever its owner), after showing what it would do unless `--yes`; 0 when released (or to be), 1 when
there is nothing to release. Every command: 2 on an error, said in one line on stderr (with --json, as an object on
stdout); an unexpected exception, a bug, also shows its traceback, and exits 2 all the same. Only `release` writes
(DeleteParameter, on claims), and no command ever touches a config. They need only boto3: nothing of aws-cdk-lib is
imported, so no JavaScript runtime starts. The handler's modules do the reading and the comparing.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from typing import Any, NoReturn, TextIO

import ledger
from lambda_api import RateLimiter
from report import Report, read

from .aws_session import ReportError, guarded, one_line
from .claims_view import release_plan, render_chains
from .drift_view import as_json, render

PROG = "python -m async_invoke_config"
# As the drift check: Lambda's control-plane quota is the account's, shared with deploys and other tools.
LAMBDA_RATE = 10.0
IN_SYNC_CODE, DRIFTED_CODE, ERROR_CODE = 0, 1, 2  # for `claims`: none stale, some stale; `release`: done, nothing


class Parser(argparse.ArgumentParser):
    """A usage error ends as every other error: one line, exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise ReportError(f"{message} (see --help)")


def parser() -> Parser:
    parser = Parser(prog=PROG, description="Async-invoke configs of deployed stacks, and their claims.")
    commands = parser.add_subparsers(dest="command", required=True)
    drift = commands.add_parser(
        "drift",
        help="report drift between each config's declaration and the live config; writes nothing",
        description="Exit code 0: every config in sync; 1: some config drifted; 2: error.",
    )
    drift.add_argument("--stack", required=True, help="the stack's name, as `cdk deploy` named it")
    claims = commands.add_parser(
        "claims",
        help="list the configs claimed in the account and region, each with its owner and whether it is stale",
        description="Exit code 0: no claim is stale; 1: some claim's owner is gone; 2: error. Writes nothing.",
    )
    claims.add_argument("--function", help="only the claims of this function (its name)")
    release = commands.add_parser(
        "release",
        help="release the claim of a config whose owner is gone, so that another stack may claim it",
        description="Deletes the claim (never the config). Exit code 0: released (or, without --yes, to be "
        "released); 1: nothing to release (no claim, or its owner lives and --force is not given); 2: error.",
    )
    release.add_argument("--function", required=True, help="the function's name")
    release.add_argument("--qualifier", default="$LATEST", help="the version or alias (default: $LATEST)")
    release.add_argument("--force", action="store_true", help="release it even though its owner still holds it")
    release.add_argument("--yes", action="store_true", help="release it; without this, only say what would be done")
    for command in (drift, claims, release):
        command.add_argument(
            "--profile", help="the AWS profile, as for `cdk deploy --profile` (default: AWS_PROFILE, else 'default')"
        )
        command.add_argument(
            "--region", help="the stack's region (default: AWS_DEFAULT_REGION, else the profile's `region`)"
        )
        command.add_argument("--json", action="store_true", help="print the result, or the error, as JSON on stdout")
    return parser


def main(argv: list[str] | None = None, session: Any = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """The command's exit code; `session` (a boto3 Session) replaces the one made for `--profile`."""
    argv = sys.argv[1:] if argv is None else argv
    wants_json = "--json" in argv  # until the arguments are parsed (argparse also takes `--js`)
    command = next((word for word in argv if not word.startswith("-")), "drift")
    try:
        args = parser().parse_args(argv)
        wants_json, command = args.json, args.command
        if command == "drift":
            return drift(args, session, out, err)
        if command == "claims":
            return claims(args, session, out)
        return release(args, session, out)
    except ReportError as error:
        return fail(command, str(error), wants_json, out, err)
    except Exception as error:  # noqa: BLE001 - a bug: its traceback is shown, and the exit code still says error
        traceback.print_exc(file=err)
        return fail(command, f"unexpected {type(error).__name__} (a bug in the report): {error}", wants_json, out, err)


def drift(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    found = run(args.stack, args.region, session, args.profile)
    if found.stack_status.endswith("_IN_PROGRESS"):
        print(f"note: the stack is {found.stack_status}; the configs may change when it completes", file=err)
    print(json.dumps([as_json(row) for row in found.rows], indent=2) if args.json else render(found), file=out)
    return IN_SYNC_CODE if found.in_sync else DRIFTED_CODE


def claims(args: argparse.Namespace, session: Any, out: TextIO) -> int:
    chains, where = guarded(args.profile, args.region, session, lambda api: read_chains(api, args.function or ""))
    print(render_chains(chains, where, args.json), file=out)
    return DRIFTED_CODE if any(chain.current.gone for chain in chains) else IN_SYNC_CODE


def release(args: argparse.Namespace, session: Any, out: TextIO) -> int:
    def act(api: Any) -> tuple[int, str]:
        chains, where = read_chains(api, args.function)
        chain = next((chain for chain in chains if chain.qualifier == args.qualifier), None)
        code, message = release_plan(chain, args.function, args.qualifier, args.force, args.yes, where)
        if chain is not None and code == IN_SYNC_CODE and args.yes:
            released = ledger.release(api("ssm", writes=frozenset({"delete_parameter"})), chain, args.force)
            message = release_plan(chain, args.function, args.qualifier, args.force, args.yes, where, released)[1]
        return code, message

    code, message = guarded(args.profile, args.region, session, act)
    print(json.dumps({"exit_code": code, "result": message}) if args.json else message, file=out)
    return code


def read_chains(api: Any, function: str) -> tuple[list[ledger.Chain], str]:
    """The claims of the caller's account and region (of `function` alone, if given), and which those are."""
    identity = api("sts").call("get_caller_identity")
    partition, account = identity["Arn"].split(":")[1], identity["Account"]
    ssm = api("ssm")
    region = ssm.client.meta.region_name
    return ledger.read(ssm, api("cloudformation"), partition, account, region, function), f"{account} {region}"


def fail(command: str, message: str, wants_json: bool, out: TextIO, err: TextIO) -> int:
    """An error in one line: on stderr, or with --json as an object on stdout."""
    if wants_json:
        print(json.dumps({"error": one_line(message), "exit_code": ERROR_CODE}), file=out)
    else:
        print(f"{PROG} {command}: {one_line(message)}", file=err)
    return ERROR_CODE


def run(stack_name: str, region: str | None, session: Any = None, profile: str | None = None) -> Report:
    """The drift report, or a ReportError that says in one line what went wrong. `session` (a boto3 Session)
    defaults to one for `profile`."""

    def report(api: Any) -> Report:
        return read(api("cloudformation"), api("lambda", RateLimiter(LAMBDA_RATE)), api("ssm"), stack_name)

    found = guarded(profile, region, session, report, stack_name)
    if not found.rows:
        raise ReportError(
            f"stack {stack_name!r} holds no async-invoke config (no Custom::LambdaAsyncInvokeConfig, and no "
            "member of a Custom::LambdaAsyncInvokeConfigs)"
        )
    return found
