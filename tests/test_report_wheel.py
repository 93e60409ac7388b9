"""Packaging of the drift report alone, for CI: the distribution cdk-async-invoke-config-report, built from this repo
(`drift-report/`), holds the report and the handler's modules and not the construct, and depends on boto3 only.
Installed into a fresh virtual environment with the oldest boto3 it allows (installed exactly), with no aws-cdk-lib,
`python -m async_invoke_config drift` prints its help and ends an error with exit code 2 in one line."""

from __future__ import annotations

import email
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "drift-report" / "pyproject.toml").read_text())
VERSION = re.search(r'__version__ = "(.+)"', (ROOT / "constructs/async_invoke_config/_version.py").read_text())
HANDLER_FILES = {path.name for path in (ROOT / "handler").glob("*.py")}
REPORT_FILES = {
    "__init__.py",
    "__main__.py",
    "_version.py",
    "cli.py",
    "aws_session.py",
    "drift_view.py",
    "claims_view.py",
    "py.typed",
}


def run(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=True, **kwargs)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built as the README says, `pip wheel --no-deps -w dist drift-report/`, from a copy of the files it links to."""
    source = tmp_path_factory.mktemp("report-wheel") / "source"
    for folder in ("drift-report", "constructs", "handler"):
        shutil.copytree(
            ROOT / folder, source / folder, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    shutil.copy(ROOT / "LICENSE", source / "LICENSE")
    dist = source.parent / "dist"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(source / "drift-report"))
    (built,) = dist.glob("*.whl")
    return built


def test_the_report_wheel_holds_the_report_and_the_handler_not_the_construct_and_needs_boto3_only(wheel):
    assert VERSION is not None
    assert wheel.name == f"cdk_async_invoke_config_report-{VERSION.group(1)}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = next(name for name in names if name.endswith(".dist-info/METADATA"))
        metadata = email.message_from_string(archive.read(info).decode())
    assert metadata["Version"] == VERSION.group(1)
    assert metadata["License-Expression"] == "Apache-2.0"
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert metadata.get_all("Requires-Dist") == PYPROJECT["project"]["dependencies"] == ["boto3>=1.34.0"]
    package = {name.removeprefix("async_invoke_config/") for name in names if name.startswith("async_invoke_config/")}
    assert package == REPORT_FILES | {f"handler/{name}" for name in HANDLER_FILES}


def test_installed_without_aws_cdk_lib_the_report_runs_and_ends_an_error_in_one_line(wheel, tmp_path):
    oldest = PYPROJECT["project"]["dependencies"][0].removeprefix("boto3>=")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", str(venv))
    python = str(venv / "bin" / "python")
    run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"boto3=={oldest}", str(wheel))
    workdir = tmp_path / "ci-job"
    workdir.mkdir()
    (workdir / "config").write_text("[profile other]\nregion = eu-west-1\n")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(workdir),
        "AWS_CONFIG_FILE": str(workdir / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "credentials"),
        "AWS_PROFILE": "my-team",
    }

    def report(*args: str) -> subprocess.CompletedProcess[str]:
        command = [python, "-m", "async_invoke_config", "drift", *args]
        return subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, check=False, timeout=60)

    installed = run(
        python, "-c", "import importlib.metadata as m, json; print(json.dumps([d.name for d in m.distributions()]))"
    )
    names = {name.lower() for name in json.loads(installed.stdout)}
    assert {"boto3", "cdk-async-invoke-config-report"} <= names
    assert names.isdisjoint({"aws-cdk-lib", "jsii", "constructs", "cdk-async-invoke-config"})
    assert run(python, "-c", "import boto3; print(boto3.__version__)").stdout.strip() == oldest

    usage = report("--help")
    assert usage.returncode == 0 and "--profile" in usage.stdout and "--json" in usage.stdout

    missing_profile = f"AWS profile 'my-team' (set by AWS_PROFILE) not found in {workdir / 'config'} or "
    failed = report("--stack", "Orders")
    assert (failed.returncode, failed.stdout) == (2, "")
    assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr
    assert failed.stderr.startswith(f"python -m async_invoke_config drift: {missing_profile}")

    as_json = report("--stack", "Orders", "--json")
    assert (as_json.returncode, as_json.stderr) == (2, "")
    assert json.loads(as_json.stdout)["error"].startswith(missing_profile)

    imported = run(
        python,
        "-c",
        "import async_invoke_config as a\n"
        "try:\n    a.AsyncInvokeConfig\nexcept ImportError as error:\n    print(a.__version__, error)",
        cwd=workdir,
    )
    assert VERSION is not None
    assert imported.stdout.startswith(f"{VERSION.group(1)} AsyncInvokeConfig is not in cdk-async-invoke-config-report")
