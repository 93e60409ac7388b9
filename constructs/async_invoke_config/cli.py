"""The read-only drift report, for a CI job to gate on.

    python -m async_invoke_config drift --stack NAME [--region R] [--json]

One row per config the stack holds: function and qualifier, whether it is in sync, the fields that differ, what its
record declares and what is live. Exit code 0 when every config is in sync, 1 when any drifted (or has no record to
compare with), 2 on an error, said in one line on stderr. It only reads (CloudFormation's DescribeStacks and
ListStackResources, SSM's GetParameters, Lambda's GetFunctionEventInvokeConfig) and needs only boto3: nothing of
aws-cdk-lib is imported, so no JavaScript runtime starts. The handler's modules do the reading and the comparing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, TextIO

import boto3
import stack
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError
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


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Async-invoke configs of a deployed stack.")
    commands = parser.add_subparsers(dest="command", required=True)
    drift = commands.add_parser(
        "drift",
        help="report drift between each config's declaration and the live config; writes nothing",
        description="Exit code 0: every config in sync; 1: some config drifted; 2: error.",
    )
    drift.add_argument("--stack", required=True, help="the stack's name, as `cdk deploy` named it")
    drift.add_argument("--region", help="the stack's region (default: the region of the caller's AWS configuration)")
    drift.add_argument("--json", action="store_true", help="print the rows as JSON")
    return parser


def main(argv: list[str] | None = None, session: Any = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = parser().parse_args(argv)
    try:
        found = run(args.stack, args.region, session or boto3.Session())
    except ReportError as error:
        print(f"{PROG} drift: {error}", file=err)
        return ERROR_CODE
    if found.stack_status.endswith("_IN_PROGRESS"):
        print(f"note: the stack is {found.stack_status}; the configs may change when it completes", file=err)
    print(json.dumps([as_json(row) for row in found.rows], indent=2) if args.json else render(found), file=out)
    return IN_SYNC_CODE if found.in_sync else DRIFTED_CODE


def run(stack_name: str, region: str | None, session: Any) -> Report:
    """The report, or a ReportError that says in one line what went wrong."""
    try:
        deadline = Deadline.after(DEADLINE)
        config = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=15)

        def api(service: str, limiter: RateLimiter | None = None) -> ReadOnlyApi:
            client = session.client(service, region_name=region, config=config)
            return ReadOnlyApi(client, deadline, time.sleep, limiter, propagation_window=0.0)

        found = read(api("cloudformation"), api("lambda", RateLimiter(LAMBDA_RATE)), api("ssm"), stack_name)
    except ReportError:
        raise
    except NoCredentialsError as error:
        raise ReportError(
            "no AWS credentials found: configure them as for the AWS CLI (AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY)"
        ) from error
    except NoRegionError as error:
        raise ReportError("no AWS region: pass --region, or set AWS_REGION") from error
    except ClientError as error:
        if error_code(error) == "ValidationError" and "does not exist" in error_message(error):
            where = region or session.region_name
            raise ReportError(f"stack {stack_name!r} not found in {where}, in the credentials' account") from error
        raise ReportError(one_line(str(error))) from error
    except (BotoCoreError, DeadlineReached) as error:
        raise ReportError(one_line(str(error))) from error
    except Exception as error:  # noqa: BLE001 - a CI job gets one line and exit code 2, never a traceback
        raise ReportError(one_line(f"{type(error).__name__}: {error}")) from error
    if not found.rows:
        raise ReportError(f"stack {stack_name!r} holds no async-invoke config (no Custom::LambdaAsyncInvokeConfig)")
    return found


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
