"""The drift report's errors, without AWS: each ends with exit code 2 (never 1, which a CI job reads as "drifted"),
in exactly one line and no traceback: on stderr, or with --json as a JSON object on stdout. The AWS configuration is
a temporary one (AWS_CONFIG_FILE, HOME for the SSO cache, credential_process scripts), read by the report in a
process of its own, as users run it; the services' answers are botocore Stubber's. Only a bug in the report shows a
traceback, and it still exits 2."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from async_invoke_config import aws_session, cli
from botocore.stub import Stubber

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "python -m async_invoke_config drift: "
REGION = "us-east-1"
EXPIRED = {"Version": 1, "AccessKeyId": "AKIA0", "SecretAccessKey": "s", "Expiration": "2020-01-01T00:00:00Z"}
SSO_TOKEN = {"startUrl": "https://example.awsapps.com/start", "region": REGION, "accessToken": "a"}


@dataclass
class Run:
    code: int
    out: str
    err: str


@dataclass
class Aws:
    """A temporary AWS configuration: HOME, the config file and the credentials file, and the environment."""

    home: Path
    env: dict[str, str]

    @property
    def config_file(self) -> Path:
        return self.home / "config"

    @property
    def credentials_file(self) -> Path:
        return self.home / "credentials"

    def config(self, text: str) -> None:
        self.config_file.write_text(text)

    def sso_token(self, key: str, **fields: str) -> None:
        """A cached SSO token, where botocore looks for it (named by the SHA-1 of the start URL or session name)."""
        cache = self.home / ".aws" / "sso" / "cache"
        cache.mkdir(parents=True, exist_ok=True)
        (cache / f"{hashlib.sha1(key.encode()).hexdigest()}.json").write_text(json.dumps(SSO_TOKEN | fields))

    def credential_process(self, code: str) -> str:
        """A `credential_process` line running `code` in Python."""
        script = self.home / f"process-{hashlib.sha1(code.encode()).hexdigest()[:8]}.py"
        script.write_text(code)
        return f"credential_process = {sys.executable} {script}\n"


@pytest.fixture
def aws(tmp_path: Path) -> Aws:
    """None of the machine's AWS variables, and configuration files that are empty until a test writes them."""
    (tmp_path / "config").write_text("")
    (tmp_path / "credentials").write_text("")
    env = {
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    return Aws(tmp_path, env)


def process(aws: Aws, *args: str, **env: str) -> Run:
    """`python -m async_invoke_config drift --stack Orders ARGS` in a process of its own, in `aws`'s environment."""
    result = subprocess.run(
        [sys.executable, "-m", "async_invoke_config", "drift", "--stack", "Orders", *args],
        cwd=aws.home,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT / "constructs"), **aws.env, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return Run(result.returncode, result.stdout, result.stderr)


def report(*args: str, session: Any = None) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["drift", "--stack", "Orders", *args], session=session, out=out, err=err)
    return Run(code, out.getvalue(), err.getvalue())


def assert_error(run: Run, message: str, as_json: bool) -> None:
    """Exit code 2 and one line: `PREFIX message` on stderr, or {"error": message, "exit_code": 2} on stdout."""
    if as_json:
        assert (run.code, run.err, run.out.count("\n")) == (2, "", 1), run
        assert json.loads(run.out) == {"error": message, "exit_code": 2}
    else:
        assert (run.code, run.out, run.err) == (2, "", f"{PREFIX}{message}\n")


FORMATS = pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])


def json_flag(as_json: bool) -> list[str]:
    return ["--json"] if as_json else []


@FORMATS
def test_a_profile_that_does_not_exist_names_the_profile_what_set_it_and_the_files(aws, as_json):
    """As the new user of issue 17 met it: AWS_PROFILE names a profile this machine does not have."""
    run = process(aws, *json_flag(as_json), AWS_PROFILE="my-team")

    assert_error(
        run,
        f"AWS profile 'my-team' (set by AWS_PROFILE) not found in {aws.config_file} or {aws.credentials_file}",
        as_json,
    )


@FORMATS
def test_the_profile_option_chooses_the_profile(aws, as_json):
    aws.config("[profile other]\nregion = eu-west-1\n")

    run = process(aws, "--profile", "my-team", *json_flag(as_json))

    assert_error(
        run,
        f"AWS profile 'my-team' (set by --profile) not found in {aws.config_file} or {aws.credentials_file}",
        as_json,
    )


@FORMATS
def test_a_config_file_that_cannot_be_parsed_names_the_file_and_the_line(aws, as_json):
    aws.config("region = eu-west-1\n")  # no [default] header

    run = process(aws, *json_flag(as_json))

    assert_error(
        run,
        f"cannot parse the AWS config file {aws.config_file}: File contains no section headers. "
        f"file: '{aws.config_file}', line: 1 'region = eu-west-1\\n'",
        as_json,
    )


@FORMATS
def test_no_credentials_says_where_it_looked(aws, as_json):
    run = process(aws, "--region", REGION, *json_flag(as_json))

    assert_error(
        run,
        f"no AWS credentials found in the environment, {aws.config_file}, {aws.credentials_file}, a container or "
        "instance role: pass --profile, or set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        as_json,
    )


@pytest.mark.parametrize(
    ("env", "tail"),
    [
        ({}, ""),
        ({"AWS_REGION": "eu-west-1"}, " (AWS_REGION=eu-west-1 is set, but boto3 does not read it)"),
    ],
    ids=["nothing set", "only AWS_REGION set"],
)
@FORMATS
def test_no_region_names_what_boto3_reads_and_not_aws_region(aws, env, tail, as_json):
    run = process(aws, *json_flag(as_json), AWS_ACCESS_KEY_ID="AKIA0", AWS_SECRET_ACCESS_KEY="s", **env)

    assert_error(
        run,
        f"no AWS region: pass --region, or set AWS_DEFAULT_REGION, or `region` in profile 'default' of "
        f"{aws.config_file}{tail}",
        as_json,
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            "[default]\n{process_expired}",
            "AWS credentials expired: Credentials were refreshed, but the refreshed credentials are still expired.",
        ),
        (
            "[default]\n{process_failing}",
            "AWS credentials could not be loaded or renewed: Error when retrieving credentials from custom-process: "
            "the session expired, log in again",
        ),
        (
            "[default]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n"
            "sso_account_id = 111111111111\nsso_role_name = Deploy\n",
            "AWS credentials could not be loaded or renewed: The SSO session associated with this profile has expired "
            "or is otherwise invalid. To refresh this SSO session run aws sso login with the corresponding profile.",
        ),
        (
            "[default]\nsso_session = team\nsso_account_id = 111111111111\nsso_role_name = Deploy\n"
            "[sso-session team]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n",
            "AWS credentials could not be loaded or renewed: Error when retrieving token from sso: Token has expired "
            "and refresh failed",
        ),
    ],
    ids=["process credentials expired", "process failing", "legacy SSO token expired", "SSO session token expired"],
)
@FORMATS
def test_credentials_that_expired_or_cannot_be_renewed_exit_2_in_one_line(aws, config, message, as_json):
    aws.config(
        config.format(
            process_expired=aws.credential_process(f"import json; print(json.dumps({EXPIRED!r}))"),
            process_failing=aws.credential_process("import sys; sys.exit('the session expired, log in again')"),
        )
    )
    for key in ("https://example.awsapps.com/start", "team"):
        aws.sso_token(key, expiresAt="2020-01-01T00:00:00Z")

    run = process(aws, "--region", REGION, *json_flag(as_json))

    assert_error(run, message, as_json)


@FORMATS
def test_the_profiles_credentials_are_named_when_a_profile_was_chosen(aws, as_json):
    process_failing = aws.credential_process("import sys; sys.exit('expired')")
    aws.config(f"[profile my-team]\nregion = {REGION}\n{process_failing}")

    run = process(aws, "--profile", "my-team", *json_flag(as_json))

    assert_error(
        run,
        "AWS credentials of profile 'my-team' (set by --profile) could not be loaded or renewed: Error when "
        "retrieving credentials from custom-process: expired",
        as_json,
    )


class StubbedSession:
    """A session whose clients answer from botocore Stubber: `answers` maps a service to (operation, error code,
    message) triples, each answered in turn."""

    region_name = REGION

    def __init__(self, answers: dict[str, list[tuple[str, str, str]]]) -> None:
        self.stubs: dict[str, Stubber] = {}
        self.answers = answers

    def client(self, service: str, **kwargs: Any) -> Any:
        client = boto3.client(  # type: ignore[call-overload]
            service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
        )
        stub = Stubber(client)
        for operation, code, message in self.answers.get(service, []):
            stub.add_client_error(operation, code, message, 400)
        stub.activate()
        self.stubs[service] = stub
        return client


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (
            "ExpiredToken",
            "The security token included in the request is expired",
            "AWS credentials expired (ExpiredToken from DescribeStacks: The security token included in the request "
            "is expired): renew them and run again",
        ),
        (
            "ExpiredTokenException",
            "The security token included in the request is expired",
            "AWS credentials expired (ExpiredTokenException from DescribeStacks: The security token included in the "
            "request is expired): renew them and run again",
        ),
        (
            "RequestExpired",
            "Request has expired.",
            "AWS credentials expired (RequestExpired from DescribeStacks: Request has expired.): renew them and run "
            "again",
        ),
        (
            "AccessDenied",
            "User: arn:aws:sts::111111111111:assumed-role/ci/run is not authorized to perform: "
            "cloudformation:DescribeStacks",
            "access denied: cloudformation:DescribeStacks: User: arn:aws:sts::111111111111:assumed-role/ci/run is not "
            "authorized to perform: cloudformation:DescribeStacks",
        ),
        (
            "ValidationError",
            "Stack with id Orders does not exist",
            "stack 'Orders' not found in us-east-1, in the credentials' account",
        ),
    ],
    ids=["ExpiredToken", "ExpiredTokenException", "RequestExpired", "access denied", "stack not found"],
)
@FORMATS
def test_the_services_refusals_exit_2_in_one_line(code, message, expected, as_json):
    session = StubbedSession({"cloudformation": [("describe_stacks", code, message)]})

    run = report(*json_flag(as_json), session=session)

    assert_error(run, expected, as_json)
    session.stubs["cloudformation"].assert_no_pending_responses()


@FORMATS
def test_throttling_past_the_deadline_exits_2_in_one_line(monkeypatch, as_json):
    monkeypatch.setattr(aws_session, "DEADLINE", 1.0)
    session = StubbedSession({"cloudformation": [("describe_stacks", "Throttling", "Rate exceeded")] * 100})

    run = report(*json_flag(as_json), session=session)

    line = json.loads(run.out)["error"] if as_json else run.err.removeprefix(PREFIX).removesuffix("\n")
    assert re.fullmatch(
        r"gave up after 1 s of retries: describe_stacks still failing near the deadline after \d+ attempts: "
        r"Throttling: Rate exceeded",
        line,
    )
    assert_error(run, line, as_json)


@FORMATS
def test_a_usage_error_exits_2_in_one_line(as_json):
    out, err = io.StringIO(), io.StringIO()

    code = cli.main(["drift", *json_flag(as_json)], out=out, err=err)

    assert_error(
        Run(code, out.getvalue(), err.getvalue()), "the following arguments are required: --stack (see --help)", as_json
    )


@FORMATS
def test_a_bug_shows_its_traceback_and_still_exits_2(as_json):
    class Broken:
        region_name = REGION

        def client(self, service: str, **kwargs: Any) -> Any:
            clients: dict[str, Any] = {}
            return clients["no such key"]

    run = report(*json_flag(as_json), session=Broken())

    assert run.code == 2
    assert run.err.startswith("Traceback (most recent call last):")
    message = "unexpected KeyError (a bug in the report): 'no such key'"
    if as_json:
        assert json.loads(run.out) == {"error": message, "exit_code": 2}
    else:
        assert (run.out, run.err.splitlines()[-1]) == ("", PREFIX + message)
