"""A command's AWS session and its errors: each client's calls retried within one deadline, a refusal by IAM taken as
final, and every error the session can end with said in one line (a profile not found, a config file that does
not parse, no region, no credentials or expired ones, a stack not found, access denied, retries that ran out)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

import boto3
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
from lambda_api import Api, Deadline, DeadlineReached, RateLimiter, StillDenied, error_code, error_message

# The whole command's calls stop after this long (retries of throttling and faults included).
DEADLINE = 120.0
READS = ("get_", "list_", "describe_")
T = TypeVar("T")
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
    """An `Api` that only reads (any other call is refused before it is sent, but the `writes` it is given), and takes
    a refusal by IAM as final: no policy is being deployed that it should wait for."""

    writes: frozenset[str] = frozenset()

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        if not operation.startswith(READS) and operation not in self.writes:
            raise ReportError(f"{self.action(operation)} refused: the command only reads")
        try:
            return super().call(operation, **params)
        except StillDenied as error:
            cause = error.__cause__ if isinstance(error.__cause__, Exception) else error
            raise ReportError(f"access denied: {self.action(operation)}: {error_message(cause)}") from error


def guarded(profile: str | None, region: str | None, session: Any, body: Callable[[Any], T], stack_name: str = "") -> T:
    """`body`, given what makes each service's `ReadOnlyApi`, or a ReportError that says in one line what went
    wrong."""
    try:
        session = session or boto3.Session(profile_name=profile)
        deadline = Deadline.after(DEADLINE)
        config = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=15)

        def api(service: str, limiter: RateLimiter | None = None, writes: frozenset[str] = frozenset()) -> ReadOnlyApi:
            client = session.client(service, region_name=region, config=config)
            made = ReadOnlyApi(client, deadline, time.sleep, limiter, propagation_window=0.0)
            made.writes = writes
            return made

        return body(api)
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
        if stack_name and code == "ValidationError" and "does not exist" in error_message(error):
            where = region or session.region_name
            raise ReportError(f"stack {stack_name!r} not found in {where}, in the credentials' account") from error
        raise ReportError(str(error)) from error
    except DeadlineReached as error:
        raise ReportError(f"gave up after {DEADLINE:.0f} s of retries: {error}") from error
    except BotoCoreError as error:
        raise ReportError(str(error)) from error


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
