"""Packaging: the built wheel installs `async_invoke_config` with its handler and py.typed into a fresh virtual
environment outside the repo, a stack synthesized there carries the handler in its asset, and the drift report runs
from there (boto3 beside it) without loading aws-cdk-lib."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HANDLER_FILES = {path.name for path in (ROOT / "handler").glob("*.py")}

USER_APP = textwrap.dedent("""
    import json, pathlib, sys
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_
    import async_invoke_config
    from async_invoke_config import AsyncInvokeConfig

    app = cdk.App()
    stack = cdk.Stack(app, "TeamStack")
    fn = lambda_.Function(stack, "Fn", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
                          code=lambda_.Code.from_inline("def handler(e, c):\\n    return None\\n"))
    AsyncInvokeConfig(stack, "FnAsync", function=fn, retry_attempts=0)
    app.synth()
    print(json.dumps({"module": async_invoke_config.__file__}))
""")


def run(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=True, **kwargs)  # type: ignore[call-overload]


def test_wheel_installs_and_synthesizes_outside_the_repo(tmp_path):
    source = tmp_path / "source"
    for name in ("pyproject.toml", "README.md"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, source / name)
    for folder in ("constructs", "handler"):
        shutil.copytree(
            ROOT / folder, source / folder, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "dist"), str(source))
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", str(venv))
    run(str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel))
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

    module = Path(json.loads(result.stdout.strip().splitlines()[-1])["module"])
    assert module.is_relative_to(venv)
    assert (module.parent / "py.typed").exists()
    template = json.loads((outdir / "TeamStack.template.json").read_text())
    (handler,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"]["Handler"] == "index.on_event"
    ]
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
