"""Declare a Lambda function's asynchronous-invocation settings in AWS CDK and keep the live function in line.

The construct is imported on first use, so that `python -m async_invoke_config` (the drift report, boto3 only)
never loads aws-cdk-lib and its JavaScript runtime, and runs from cdk-async-invoke-config-report, the distribution
that holds the report without the construct (drift-report/pyproject.toml)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .handler.contract import InvalidProperty

if TYPE_CHECKING:
    from .async_invoke_config import AsyncInvokeConfig
    from .handler_settings import configure_handler

__all__ = ["AsyncInvokeConfig", "InvalidProperty", "__version__", "configure_handler"]
_LAZY = {"AsyncInvokeConfig": ".async_invoke_config", "configure_handler": ".handler_settings"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        try:
            module = importlib.import_module(_LAZY[name], __name__)
        except ModuleNotFoundError as missing:
            if missing.name != __name__ + _LAZY[name]:
                raise
            raise ImportError(
                f"{name} is not in cdk-async-invoke-config-report, which holds the drift report only: "
                "pip install cdk-async-invoke-config for the construct (it holds the report too)"
            ) from missing
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
