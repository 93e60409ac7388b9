"""Every claim of an account and region (or of one function), grouped by config, each with whether its owner still
holds the config: what `python -m async_invoke_config claims` lists, and what `release` acts on. Only `release`
writes: it deletes claims, never a config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stack
from botocore.exceptions import ClientError
from contract import PARAMETER_ROOT, SUCCESSOR
from lambda_api import Api, error_code
from plan import Record
from records import claimed_config, decode


@dataclass(frozen=True)
class Held:
    """One claim: its parameter, what it says, and why its owner no longer holds the config (None: it does, or an
    operation of its stack is under way)."""

    name: str
    record: Record
    gone: str | None


@dataclass(frozen=True)
class Chain:
    """A config's claims: its first, then each that succeeded it (an owner gone), in order; the last counts."""

    function: str
    qualifier: str
    config_arn: str
    links: list[Held]

    @property
    def current(self) -> Held:
        return self.links[-1]


def read(ssm: Api, cloudformation: Api, partition: str, account: str, region: str, function: str = "") -> list[Chain]:
    """The chains of every config claimed in `account` and `region` (of `function` alone, if given)."""
    root = f"{PARAMETER_ROOT}/{account}/{region}" + (f"/{function}" if function else "")
    found: dict[str, Record] = {}
    params: dict[str, Any] = {"Path": root, "Recursive": True}
    while True:
        page = ssm.call("get_parameters_by_path", **params)
        for parameter in page.get("Parameters", []):
            found[parameter["Name"]] = decode(parameter["Value"], int(parameter.get("Version", 0)))
        if not page.get("NextToken"):
            break
        params["NextToken"] = page["NextToken"]
    bases = sorted({_base(name) for name in found})
    chains = []
    for base in bases:
        config_arn = claimed_config(base, partition)
        function_name, qualifier = config_arn.split(":")[-2:]
        ordered = _ordered(base, {name: record for name, record in found.items() if _base(name) == base})
        links = [Held(name, record, _gone(cloudformation, record, config_arn)) for name, record in ordered]
        chains.append(Chain(function_name, qualifier, config_arn, links))
    return chains


def releasable(chain: Chain, force: bool) -> list[Held]:
    """The claims `release` deletes, last first: the claim that counts if its owner is gone (or with `force`,
    whatever its owner), then each before it whose owner is gone too."""
    doomed: list[Held] = []
    for held in reversed(chain.links):
        if held.gone is None and not (force and not doomed):
            break
        doomed.append(held)
    return doomed


def release(ssm: Api, chain: Chain, force: bool) -> list[Held]:
    """Delete the claims `releasable` names; the claims deleted. The live config is left as it is: the next stack
    that declares it borrows it as it finds it."""
    doomed = releasable(chain, force)
    for held in doomed:
        try:
            ssm.call("delete_parameter", Name=held.name)
        except ClientError as error:
            if error_code(error) != "ParameterNotFound":
                raise
    return doomed


def _base(name: str) -> str:
    """The config's first claim, of any of its claims' parameters."""
    head, _, last = name.rpartition("/")
    return head if last.startswith(SUCCESSOR) else name


def _ordered(base: str, links: dict[str, Record]) -> list[tuple[str, Record]]:
    """The first claim, then each that succeeded the one before (named after its claim id); any left over (a claim
    whose predecessor was deleted by hand) at the end."""
    ordered: list[tuple[str, Record]] = []
    name = base
    while name in links and all(name != seen for seen, _ in ordered):
        ordered.append((name, links[name]))
        name = f"{base}/{SUCCESSOR}{links[name].claim_id}"
    ordered += [(name, record) for name, record in sorted(links.items()) if all(name != seen for seen, _ in ordered)]
    return ordered


def _gone(cloudformation: Api, record: Record, config_arn: str) -> str | None:
    return stack.gone(cloudformation, record.owner.stack_id, record.owner.logical_id, config_arn, record.leaving)
