"""Packaging: the built wheel carries its version, license and metadata; installed into a fresh virtual environment
outside the repo together with the oldest aws-cdk-lib it declares (the floor, installed exactly), it synthesizes a
team's app that uses the construct, its defaults and `configure_handler`, the stack's handler asset holds the handler,
and the drift report runs from there (boto3 beside it) without loading aws-cdk-lib."""

from __future__ import annotations

import email
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HANDLER_FILES = {path.name for path in (ROOT / "handler").glob("*.py")}
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = re.search(r'__version__ = "(.+)"', (ROOT / "constructs/async_invoke_config/_version.py").read_text())

USER_APP = textwrap.dedent("""
    import json
    from importlib.metadata import version
    import aws_cdk as cdk
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_lambda as lambda_
    import async_invoke_config
    from async_invoke_config import AsyncInvokeConfig, configure_handler

    def function(scope, id):
        return lambda_.Function(scope, id, runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
                                code=lambda_.Code.from_inline("def handler(e, c):\\n    return None\\n"))

    app = cdk.App()
    stack = cdk.Stack(app, "TeamStack")
    AsyncInvokeConfig.apply_defaults(stack, retry_attempts=1, on_failure="arn:aws:sqs:us-east-1:123456789012:dlq")
    AsyncInvokeConfig.require_on_failure(stack)
    AsyncInvokeConfig(stack, "FnAsync", function=function(stack, "Fn"), retry_attempts=0,
                      on_failure="arn:aws:sqs:us-east-1:123456789012:fn-dlq")
    function(stack, "Defaulted")
    AsyncInvokeConfig(stack, "Legacy", function="legacy-billing", max_event_age=cdk.Duration.minutes(30))
    configure_handler(stack, log_key=kms.Key(stack, "LogKey"), architecture=lambda_.Architecture.ARM_64,
                      log_level=lambda_.ApplicationLogLevel.DEBUG)
    app.synth()
    print(json.dumps({"module": async_invoke_config.__file__, "version": async_invoke_config.__version__,
                      "aws_cdk_lib": version("aws-cdk-lib")}))
""")


def run(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=True, **kwargs)  # type: ignore[call-overload]


def floor(requirement: str) -> str:
    """The version after `>=` in a requirement such as `aws-cdk-lib>=2.269.0,<3`."""
    match = re.search(r">=\s*([0-9][0-9.]*)", requirement)
    assert match, requirement
    return match.group(1)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("wheel")
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    for folder in ("constructs", "handler"):
        shutil.copytree(
            ROOT / folder, source / folder, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "dist"), str(source))
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    return wheel


def test_wheel_carries_its_version_license_and_the_floor_it_declares(wheel):
    assert VERSION is not None
    assert wheel.name == f"cdk_async_invoke_config-{VERSION.group(1)}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = next(name for name in names if name.endswith(".dist-info/METADATA"))
        metadata = email.message_from_string(archive.read(info).decode())
        license_text = next(archive.read(name) for name in names if name.endswith(".dist-info/licenses/LICENSE"))
    assert metadata["Version"] == VERSION.group(1)
    assert metadata["License-Expression"] == "Apache-2.0"
    assert b"Apache License" in license_text and b"Version 2.0" in license_text
    assert "Typing :: Typed" in (metadata.get_all("Classifier") or [])
    requires = metadata.get_all("Requires-Dist") or []
    declared = next(r for r in PYPROJECT["project"]["dependencies"] if r.startswith("aws-cdk-lib"))
    assert [floor(r) for r in requires if r.startswith("aws-cdk-lib")] == [floor(declared)]
    assert "async_invoke_config/py.typed" in names
    handler = {name.rsplit("/", 1)[-1] for name in names if name.startswith("async_invoke_config/handler/")}
    assert handler >= HANDLER_FILES


def test_wheel_with_the_oldest_aws_cdk_lib_it_allows_synthesizes_a_team_app_outside_the_repo(wheel, tmp_path):
    declared = next(r for r in PYPROJECT["project"]["dependencies"] if r.startswith("aws-cdk-lib"))
    oldest = floor(declared)
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", str(venv))
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run(*pip, f"aws-cdk-lib=={oldest}", str(wheel))
    workdir = tmp_path / "team-repo"
    workdir.mkdir()
    (workdir / "app.py").write_text(USER_APP)
    outdir = workdir / "cdk.out"

    result = run(
        str(venv / "bin" / "python"),
        "app.py",
        cwd=workdir,
        env={**os.environ, "CDK_OUTDIR": str(outdir), "PYTHONPATH": ""},
    )

    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed["aws_cdk_lib"] == oldest
    assert VERSION is not None and printed["version"] == VERSION.group(1)
    module = Path(printed["module"])
    assert module.is_relative_to(venv)
    assert (module.parent / "py.typed").exists()
    template = json.loads((outdir / "TeamStack.template.json").read_text())
    configs = {
        key[:-8]: value["Properties"]
        for key, value in template["Resources"].items()
        if value["Type"] == "Custom::LambdaAsyncInvokeConfig"
    }
    assert set(configs) == {"FnAsync", "Legacy"}
    (group,) = [r["Properties"] for r in template["Resources"].values() if r["Type"].endswith("Configs")]
    assert group["Shared"]["RetryAttempts"] == 1 and len(group["Members"]) == 1  # the defaults, carried by a group
    (handler,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"]["Handler"] == "index.on_event"
    ]
    assert handler["Properties"]["Architectures"] == ["arm64"]
    assert handler["Properties"]["LoggingConfig"]["LogFormat"] == "JSON"
    assert handler["Properties"]["LoggingConfig"]["ApplicationLogLevel"] == "DEBUG"
    asset = outdir / f"asset.{handler['Properties']['Code']['S3Key'].removesuffix('.zip')}"
    assert {path.name for path in asset.iterdir()} == HANDLER_FILES

    run(str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "boto3")
    no_credentials = {"AWS_CONFIG_FILE": str(workdir / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "none")}
    report = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-X",
            "importtime",
            "-m",
            "async_invoke_config",
            "drift",
            "--stack",
            "TeamStack",
        ],
        cwd=workdir,
        env={"PATH": os.environ["PATH"], "AWS_DEFAULT_REGION": "us-east-1", **no_credentials},
        capture_output=True,
        text=True,
        check=False,
    )
    imported = [line.split("|")[-1].strip() for line in report.stderr.splitlines() if line.startswith("import time:")]
    messages = [line for line in report.stderr.splitlines() if not line.startswith("import time:")]
    assert report.returncode == 2
    assert len(messages) == 1 and messages[0].startswith("python -m async_invoke_config drift: no AWS credentials")
    assert "async_invoke_config.cli" in imported and "report" in imported
    assert not [name for name in imported if name.split(".")[0] in ("aws_cdk", "jsii")]
