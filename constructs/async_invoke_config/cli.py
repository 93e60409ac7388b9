"""The read-only drift report, for a CI job to gate on.

    python -m async_invoke_config drift --stack NAME [--profile P] [--region R] [--json]

One row per config the stack holds: function and qualifier, whether it is in sync, the fields that differ, what its
record declares and what is live. Exit code 0 when every config is in sync, 1 when any drifted (or has no record to
compare with), 2 on an error, said in one line on stderr (with --json, as an object on stdout); an unexpected
exception, a bug, also shows its traceback, and exits 2 all the same. It only reads (CloudFormation's DescribeStacks and
ListStackResources, SSM's GetParameters, Lambda's GetFunctionEventInvokeConfig) and needs only boto3: nothing of
aws-cdk-lib is imported, so no JavaScript runtime starts. The handler's modules do the reading and the comparing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from typing import Any, NoReturn, TextIO

import boto3
import stack
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConfigParseError,
    CredentialRetrievalError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    RefreshWithMFAUnsupportedError,
    SSOError,
    TokenRetrievalError,
)
from contract import DESTINATION_PATTERN, MAXIMUM_EVENT_AGE_IN_SECONDS, MAXIMUM_RETRY_ATTEMPTS, parse_function_name
from lambda_api import Api, Deadline, DeadlineReached, RateLimiter, StillDenied, error_code, error_message
from report import IN_SYNC, Report, Row, read
from settings import FAILURE_LABEL, SUCCESS_LABEL, Settings

PROG = "python -m async_invoke_config"
# The whole report's calls stop after this long (retries of throttling and faults included).
DEADLINE = 120.0
# As the drift check: Lambda's control-plane quota is the account's, shared with deploys and other tools.
LAMBDA_RATE = 10.0
READS = ("get_", "list_", "describe_")
SHORT = {
    MAXIMUM_RETRY_ATTEMPTS: "retries",
    MAXIMUM_EVENT_AGE_IN_SECONDS: "age",
    SUCCESS_LABEL: "on-success",
    FAILURE_LABEL: "on-failure",
}
IN_SYNC_CODE, DRIFTED_CODE, ERROR_CODE = 0, 1, 2
# Credentials that could not be loaded or renewed: a failed credential_process, an expired SSO session, an assumed
# role whose MFA token would be needed again, a profile with half its keys. (botocore 1.34, the floor, has no LoginError
# for `aws login` sessions: those end as any other BotoCoreError, in their own words.)
CREDENTIAL_ERRORS = (
    CredentialRetrievalError,
    TokenRetrievalError,
    SSOError,
    RefreshWithMFAUnsupportedError,
    PartialCredentialsError,
)
# What botocore raises (a bare RuntimeError) when a renewal returns credentials that are expired already.
STILL_EXPIRED = "refreshed credentials are still expired"
# The services' answers to expired credentials (STS, CloudFormation; Lambda, SSM; a request signed too long ago).
EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})


class ReportError(Exception):
    """An error the report ends with: the message is the one line it prints."""


class ReadOnlyApi(Api):
    """An `Api` that only reads (any other call is refused before it is sent), and takes a refusal by IAM as final:
    no policy is being deployed that it should wait for."""

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        if not operation.startswith(READS):
            raise ReportError(f"{self.action(operation)} refused: the drift report only reads")
        try:
            return super().call(operation, **params)
        except StillDenied as error:
            cause = error.__cause__ if isinstance(error.__cause__, Exception) else error
            raise ReportError(f"access denied: {self.action(operation)}: {error_message(cause)}") from error


class Parser(argparse.ArgumentParser):
    """A usage error ends as every other error: one line, exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise ReportError(f"{message} (see --help)")


def parser() -> Parser:
    parser = Parser(prog=PROG, description="Async-invoke configs of a deployed stack.")
    commands = parser.add_subparsers(dest="command", required=True)
    drift = commands.add_parser(
        "drift",
        help="report drift between each config's declaration and the live config; writes nothing",
        description="Exit code 0: every config in sync; 1: some config drifted; 2: error.",
    )
    drift.add_argument("--stack", required=True, help="the stack's name, as `cdk deploy` named it")
    drift.add_argument(
        "--profile", help="the AWS profile, as for `cdk deploy --profile` (default: AWS_PROFILE, else 'default')"
    )
    drift.add_argument("--region", help="the stack's region (default: AWS_DEFAULT_REGION, else the profile's `region`)")
    drift.add_argument("--json", action="store_true", help="print the rows, or the error, as JSON on stdout")
    return parser


def main(argv: list[str] | None = None, session: Any = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """The report's exit code; `session` (a boto3 Session) replaces the one made for `--profile`."""
    argv = sys.argv[1:] if argv is None else argv
    wants_json = "--json" in argv  # until the arguments are parsed (argparse also takes `--js`)
    try:
        args = parser().parse_args(argv)
        wants_json = args.json
        found = run(args.stack, args.region, session, args.profile)
    except ReportError as error:
        return fail(str(error), wants_json, out, err)
    except Exception as error:  # noqa: BLE001 - a bug: its traceback is shown, and the exit code still says error
        traceback.print_exc(file=err)
        return fail(f"unexpected {type(error).__name__} (a bug in the report): {error}", wants_json, out, err)
    if found.stack_status.endswith("_IN_PROGRESS"):
        print(f"note: the stack is {found.stack_status}; the configs may change when it completes", file=err)
    print(json.dumps([as_json(row) for row in found.rows], indent=2) if wants_json else render(found), file=out)
    return IN_SYNC_CODE if found.in_sync else DRIFTED_CODE


def fail(message: str, wants_json: bool, out: TextIO, err: TextIO) -> int:
    """An error in one line: on stderr, or with --json as an object on stdout."""
    if wants_json:
        print(json.dumps({"error": one_line(message), "exit_code": ERROR_CODE}), file=out)
    else:
        print(f"{PROG} drift: {one_line(message)}", file=err)
    return ERROR_CODE


def run(stack_name: str, region: str | None, session: Any = None, profile: str | None = None) -> Report:
    """The report, or a ReportError that says in one line what went wrong. `session` (a boto3 Session) defaults to
    one for `profile`."""
    try:
        session = session or boto3.Session(profile_name=profile)
        deadline = Deadline.after(DEADLINE)
        config = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=15)

        def api(service: str, limiter: RateLimiter | None = None) -> ReadOnlyApi:
            client = session.client(service, region_name=region, config=config)
            return ReadOnlyApi(client, deadline, time.sleep, limiter, propagation_window=0.0)

        found = read(api("cloudformation"), api("lambda", RateLimiter(LAMBDA_RATE)), api("ssm"), stack_name)
    except ProfileNotFound as error:
        name, source = chosen_profile(profile)
        config_file, credentials_file = config_files()
        raise ReportError(
            f"AWS profile {name!r} (set by {source}) not found in {config_file} or {credentials_file}"
        ) from error
    except ConfigParseError as error:
        reason = dict(error.kwargs).get("error", "")  # botocore passes the parser's own message, which says where
        raise ReportError(f"cannot parse the AWS config file {error.kwargs['path']}: {reason}") from error
    except NoRegionError as error:
        raise ReportError(no_region(profile)) from error
    except NoCredentialsError as error:
        name, source = chosen_profile(profile)
        config_file, credentials_file = config_files()
        searched = (
            f"profile {name!r} (set by {source}) of {config_file} and {credentials_file}"
            if source
            else f"the environment, {config_file}, {credentials_file}, a container or instance role"
        )
        raise ReportError(
            f"no AWS credentials found in {searched}: pass --profile, or set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY"
        ) from error
    except CREDENTIAL_ERRORS as error:
        raise ReportError(f"{credentials_of(profile)} could not be loaded or renewed: {error}") from error
    except RuntimeError as error:
        if STILL_EXPIRED not in str(error):
            raise
        raise ReportError(f"{credentials_of(profile)} expired: {error}") from error
    except ClientError as error:
        code, operation = error_code(error), error.operation_name
        if code in EXPIRED_CODES:
            raise ReportError(
                f"{credentials_of(profile)} expired ({code} from {operation}: "
                f"{error_message(error)}): renew them and run again"
            ) from error
        if code == "ValidationError" and "does not exist" in error_message(error):
            where = region or session.region_name
            raise ReportError(f"stack {stack_name!r} not found in {where}, in the credentials' account") from error
        raise ReportError(str(error)) from error
    except DeadlineReached as error:
        raise ReportError(f"gave up after {DEADLINE:.0f} s of retries: {error}") from error
    except BotoCoreError as error:
        raise ReportError(str(error)) from error
    if not found.rows:
        raise ReportError(f"stack {stack_name!r} holds no async-invoke config (no Custom::LambdaAsyncInvokeConfig)")
    return found


def chosen_profile(profile: str | None) -> tuple[str, str]:
    """The profile boto3 uses and what set it (--profile, AWS_DEFAULT_PROFILE, AWS_PROFILE), or ("default", "")."""
    if profile:
        return profile, "--profile"
    for variable in ("AWS_DEFAULT_PROFILE", "AWS_PROFILE"):
        if os.environ.get(variable):
            return os.environ[variable], variable
    return "default", ""


def credentials_of(profile: str | None) -> str:
    name, source = chosen_profile(profile)
    return f"AWS credentials of profile {name!r} (set by {source})" if source else "AWS credentials"


def config_files() -> tuple[str, str]:
    """The AWS config and credentials files boto3 reads."""
    return (
        os.environ.get("AWS_CONFIG_FILE", "~/.aws/config"),
        os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
    )


def no_region(profile: str | None) -> str:
    """What boto3 reads for the region: AWS_DEFAULT_REGION, else the profile's `region`; never AWS_REGION."""
    name, _ = chosen_profile(profile)
    message = (
        f"no AWS region: pass --region, or set AWS_DEFAULT_REGION, or `region` in profile {name!r} of "
        f"{config_files()[0]}"
    )
    if os.environ.get("AWS_REGION"):
        message += f" (AWS_REGION={os.environ['AWS_REGION']} is set, but boto3 does not read it)"
    return message


def one_line(text: str) -> str:
    return " ".join(text.split())


def render(found: Report) -> str:
    drifted = sum(row.status != IN_SYNC for row in found.rows)
    title = f"stack {stack.name(found.stack_id)} ({found.stack_status}): {len(found.rows)} configs, "
    title += f"{drifted} not in sync" if drifted else "all in sync"
    header = ("function", "qualifier", "status", "differs", "declared", "live")
    table = [header] + [
        (
            parse_function_name(row.target.function_name)[0],
            row.target.qualifier,
            row.status,
            ", ".join(SHORT[label] for label in row.differs) or row.reason or "-",
            brief(row.declared, found.stack_id) if row.declared is not None else "-",
            live_cell(row, found.stack_id),
        )
        for row in found.rows
    ]
    widths = [max(len(line[column]) for line in table) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in table]
    return "\n".join([title, *lines])


def live_cell(row: Row, stack_id: str) -> str:
    if row.status == IN_SYNC:
        return "= declared"
    return brief(row.live, stack_id) if row.live is not None else "(no config)"


def brief(settings: Settings, stack_id: str) -> str:
    """Settings on one line; a destination in the stack's own account and region by its service and name."""
    parts = []
    for label, value in settings.labelled().items():
        if isinstance(value, str):
            parts.append(f"{SHORT[label]}={local_name(value, stack_id)}")
        elif value is not None:
            parts.append(f"{SHORT[label]}={value}{'s' if label == MAXIMUM_EVENT_AGE_IN_SECONDS else ''}")
    return " ".join(parts) or "(nothing set)"


def local_name(arn: str, stack_id: str) -> str:
    match, home = DESTINATION_PATTERN.fullmatch(arn), DESTINATION_PATTERN.fullmatch(stack_id)
    if (
        match is None
        or home is None
        or (match.group("account"), match.group("region"))
        not in (
            (home.group("account"), home.group("region")),
            ("", ""),
        )
    ):
        return arn
    return f"{match.group('service')}:{match.group('resource').split('/')[-1].removeprefix('function:')}"


def as_json(row: Row) -> dict[str, Any]:
    return {
        "logical_id": row.logical_id,
        "function": parse_function_name(row.target.function_name)[0],
        "qualifier": row.target.qualifier,
        "function_arn": row.target.function_name,
        "status": row.status,
        "differs": list(row.differs),
        "declared": row.declared.labelled() if row.declared is not None else None,
        "live": row.live.labelled() if row.live is not None else None,
        "reason": row.reason,
    }
