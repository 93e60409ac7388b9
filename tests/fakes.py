"""A declarations store in a dict, for tests that are not about SSM."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from declarations import NOT_STORED


class MemoryStore:
    def __init__(self) -> None:
        self.saved: dict[str, dict[str, Any]] = {}

    def save(self, function_arn: str, properties: Mapping[str, Any]) -> None:
        self.saved[function_arn] = {key: value for key, value in properties.items() if key not in NOT_STORED}

    def remove(self, function_arn: str) -> None:
        self.saved.pop(function_arn, None)

    def load(self) -> list[dict[str, Any]]:
        return list(self.saved.values())
