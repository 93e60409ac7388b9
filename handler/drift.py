"""The drift check: each config the stack declares, read in parallel (within a request rate) and corrected toward
its record. A correction re-reads the record before and after it writes, so that a Delete running at the same time
(a scheduled check meets a deploy) wins: the check never leaves a config that no resource owns."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from contract import METRIC_CHECKED, METRIC_CORRECTED, METRIC_FAILED
from lambda_api import Api
from log import decision
from plan import NONE, Record, plan
from reconcile import converge, describe, let_go, reconcile
from records import Records
from settings import Target, from_api

WORKERS = 8
RACED = "record changed during the check"


@dataclass(frozen=True)
class Item:
    """One config to check, with its claim as read (`claim`, the parameter; `record`, what it said); `skip` says why
    it is not checked."""

    target: Target
    record: Record | None
    skip: str = ""
    claim: str = ""


@dataclass(frozen=True)
class Result:
    function: str
    action: str = NONE
    changed: tuple[str, ...] = ()
    error: str = ""
    skipped: str = ""
    unsettled: bool = False  # it wrote, then could not redo what a concurrent Delete or Update of its owner did


@dataclass(frozen=True)
class Report:
    results: list[Result]

    @property
    def corrected(self) -> list[Result]:
        return [result for result in self.results if result.action != NONE and not result.error]

    @property
    def failed(self) -> list[Result]:
        return [result for result in self.results if result.error]

    @property
    def skipped(self) -> list[Result]:
        return [result for result in self.results if result.skipped]

    @property
    def checked(self) -> list[Result]:
        return [result for result in self.results if not result.skipped]

    def counts(self, explained_failures: bool = False) -> dict[str, int]:
        """The check's metrics; failures a concurrent deploy explains (`explained_failures`) are not counted."""
        failed = 0 if explained_failures else len(self.failed)
        return {METRIC_CHECKED: len(self.checked), METRIC_CORRECTED: len(self.corrected), METRIC_FAILED: failed}

    def summary(self) -> str:
        in_sync = len(self.checked) - len(self.corrected) - len(self.failed)
        return (
            f"checked {len(self.checked)} configs: {len(self.corrected)} corrected, {len(self.failed)} failed, "
            f"{in_sync} in sync; {len(self.skipped)} skipped"
        )

    def failure_reason(self) -> str:
        details = "; ".join(f"{result.function}: {result.error}" for result in self.failed)
        return f"Drift correction failed for {len(self.failed)} of {len(self.checked)} configs: {details}"


def check(api: Api, records: Records, items: list[Item]) -> Report:
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(lambda item: check_one(api, records, item), items))
    report = Report(results)
    decision("drift_check", summary=report.summary())
    return report


def check_one(api: Api, records: Records, item: Item) -> Result:
    target, record = item.target, item.record
    if item.skip or record is None:
        return _skipped(target, item.skip or "no record")
    try:
        live = api.get(**target.params())
        if plan(record.declared, from_api(live) if live is not None else None).action == NONE:
            return Result(str(target))
        if not _unchanged(records, item.claim, record):
            return _skipped(target, RACED)
        try:
            done = converge(api, target, record.declared, live)
        except Exception:
            if _unchanged(records, item.claim, record):
                raise
            return _skipped(target, RACED)  # its owner's Delete (or Update) ran meanwhile: theirs wins
        try:
            _settle(api, records, target, item.claim, record)
        except Exception as error:  # noqa: BLE001 - reported as a failure that a deploy starting cannot explain
            reason = f"written, then not settled after its record changed: {describe(error)}"
            decision("drift_correction_failed", function=str(target), error=reason)
            return Result(str(target), done.step.action, done.step.changed, error=reason, unsettled=True)
    except Exception as error:  # noqa: BLE001 - one config's failure must not hide the others' results
        reason = describe(error)
        decision("drift_correction_failed", function=str(target), error=reason)
        return Result(str(target), error=reason)
    declared = record.declared.labelled()
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


def _skipped(target: Target, reason: str) -> Result:
    decision("drift_check_skipped_config", function=str(target), reason=reason)
    return Result(str(target), skipped=reason)


def _unchanged(records: Records, claim: str, record: Record) -> bool:
    return _same(records.get(claim), record)


def _same(now: Record | None, read: Record) -> bool:
    """The record still says what was read (SSM numbers versions anew after a delete: the content is compared too)."""
    return now is not None and now.version == read.version and now == read


def _settle(api: Api, records: Records, target: Target, claim: str, written: Record) -> None:
    """After a correction: if the record changed meanwhile (its owner's Delete or Update ran while this check wrote),
    the check's write may have undone theirs; redo what the record now says."""
    now = records.get(claim)
    if _same(now, written):
        return
    decision("drift_correction_raced", function=str(target), record="gone" if now is None else "changed")
    if now is not None:
        reconcile(api, target, now.declared)
    elif not written.retain:
        let_go(api, target, written.prior)
