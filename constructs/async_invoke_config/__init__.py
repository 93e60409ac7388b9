"""Declare a Lambda function's asynchronous-invocation settings in AWS CDK and keep the live function in line."""

from ._version import __version__
from .async_invoke_config import AsyncInvokeConfig
from .handler.contract import InvalidProperty

__all__ = ["AsyncInvokeConfig", "InvalidProperty", "__version__"]
