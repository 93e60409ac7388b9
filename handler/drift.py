"""The drift check: every config the stack declared, read in parallel (within a request rate) and corrected."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from contract import FUNCTION_NAME
from declarations import Store
from lambda_api import Api
from log import decision
from plan import NONE
from reconcile import describe, reconcile

WORKERS = 8


@dataclass(frozen=True)
class Result:
    function: str
    action: str = NONE
    changed: tuple[str, ...] = ()
    error: str = ""


@dataclass(frozen=True)
class Report:
    results: list[Result]

    @property
    def corrected(self) -> list[Result]:
        return [result for result in self.results if result.action != NONE and not result.error]

    @property
    def failed(self) -> list[Result]:
        return [result for result in self.results if result.error]

    def summary(self) -> str:
        return (
            f"checked {len(self.results)} configs: {len(self.corrected)} corrected, "
            f"{len(self.failed)} failed, {len(self.results) - len(self.corrected) - len(self.failed)} in sync"
        )

    def failure_reason(self) -> str:
        details = "; ".join(f"{result.function}: {result.error}" for result in self.failed)
        return f"Drift correction failed for {len(self.failed)} of {len(self.results)} configs: {details}"


def check(api: Api, store: Store) -> Report:
    declared = store.load()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(lambda properties: check_one(api, properties), declared))
    report = Report(results)
    decision("drift_check", summary=report.summary())
    return report


def check_one(api: Api, properties: Mapping[str, Any]) -> Result:
    try:
        done = reconcile(properties, api)
    except Exception as error:  # noqa: BLE001 - one config's failure must not hide the others' results
        reason = describe(error)
        decision("drift_correction_failed", function=properties.get(FUNCTION_NAME), error=reason)
        return Result(str(properties.get(FUNCTION_NAME)), error=reason)
    declared = done.declared.settings.labelled()
    before = done.live_before.labelled() if done.live_before else dict.fromkeys(declared)
    for field in done.step.changed:
        decision(
            "drift_corrected",
            function=done.function_arn,
            field=field,
            declared=declared[field],
            live_before=before[field],
            action=done.step.action,
        )
    return Result(done.function_arn, done.step.action, done.step.changed)
