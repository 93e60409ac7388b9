"""What each config of a stack last declared, kept where the drift check can read it between CloudFormation events:
one SSM parameter per config, `/async-invoke-config/<stack uuid>/<function>/<qualifier>`, written by the config's
own Create and Update and removed by its Delete."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from botocore.exceptions import ClientError
from contract import FUNCTION_NAME_PATTERN, PARAMETER_ROOT, SERVICE_TIMEOUT, SERVICE_TOKEN
from lambda_api import Api, error_code

NOT_STORED = (SERVICE_TOKEN, SERVICE_TIMEOUT)


def stack_path(stack_id: str) -> str:
    """`arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/UUID` -> `/async-invoke-config/UUID`."""
    return f"{PARAMETER_ROOT}/{stack_id.rsplit('/', 1)[-1]}"


def parameter_name(stack_id: str, function_arn: str) -> str:
    match = FUNCTION_NAME_PATTERN.fullmatch(function_arn)
    assert match is not None and match.group("qualifier") is not None, function_arn
    # `$` may not appear in a parameter name and `.` never appears in a qualifier but `$LATEST.PUBLISHED`.
    return f"{stack_path(stack_id)}/{match.group('name')}/{match.group('qualifier').replace('$', '.')}"


class Store(Protocol):
    def save(self, function_arn: str, properties: Mapping[str, Any]) -> None: ...

    def remove(self, function_arn: str) -> None: ...

    def load(self) -> list[dict[str, Any]]: ...


class Declarations:
    """The SSM-backed store for one stack."""

    def __init__(self, ssm: Api, stack_id: str) -> None:
        self.ssm = ssm
        self.stack_id = stack_id

    def save(self, function_arn: str, properties: Mapping[str, Any]) -> None:
        stored = {key: value for key, value in properties.items() if key not in NOT_STORED}
        self.ssm.call(
            "put_parameter",
            Name=parameter_name(self.stack_id, function_arn),
            Value=json.dumps(stored, sort_keys=True, separators=(",", ":")),
            Type="String",
            Overwrite=True,
        )

    def remove(self, function_arn: str) -> None:
        try:
            self.ssm.call("delete_parameter", Name=parameter_name(self.stack_id, function_arn))
        except ClientError as error:
            if error_code(error) != "ParameterNotFound":
                raise

    def load(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"Path": stack_path(self.stack_id), "Recursive": True, "MaxResults": 10}
        while True:
            page = self.ssm.call("get_parameters_by_path", **params)
            found += [json.loads(parameter["Value"]) for parameter in page.get("Parameters", [])]
            if not page.get("NextToken"):
                return found
            params["NextToken"] = page["NextToken"]
