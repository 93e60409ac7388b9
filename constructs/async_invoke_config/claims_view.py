"""The claims as an operator reads them: one line per claim, grouped by config, each owner live or gone; and what
`release` does (or would do) with a config's claims."""

from __future__ import annotations

import json
from typing import Any

import stack
from contract import carrier
from ledger import Chain, Held, releasable

RELEASED, NOTHING = 0, 1  # `release`'s exit codes: released (or to be), nothing to release


def state(held: Held) -> str:
    return "live" if held.gone is None else f"stale: {held.gone}"


def owner(held: Held) -> str:
    """The resource that owns the config: a config resource, or a group's member (`<group>/<key>`)."""
    logical_id, group = held.record.owner.logical_id, carrier(held.record.owner.logical_id)
    resource = f"{group} (member {logical_id[len(group) + 1 :]})" if group is not None else logical_id
    return f"{resource} of stack {stack.name(held.record.owner.stack_id)}"


def render_chains(chains: list[Chain], where: str, as_json: bool) -> str:
    """Each config claimed, its claims in order (the last counts), each with its owner and whether it is stale."""
    if as_json:
        return json.dumps([chain_json(chain) for chain in chains], indent=2)
    stale = sum(chain.current.gone is not None for chain in chains)
    configs = f"{len(chains)} config{'' if len(chains) == 1 else 's'}"
    title = f"claims in {where}: {configs}, " + (f"{stale} with a stale owner" if stale else "none stale")
    header = ("function", "qualifier", "owner", "state")
    table = [header] + [
        (
            chain.function if index == 0 else "",
            chain.qualifier if index == 0 else "",
            owner(held) + (" (superseded)" if held is not chain.current else ""),
            state(held),
        )
        for chain in chains
        for index, held in enumerate(chain.links)
    ]
    widths = [max(len(line[column]) for line in table) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in table]
    return "\n".join([title, *lines])


def chain_json(chain: Chain) -> dict[str, Any]:
    return {
        "function": chain.function,
        "qualifier": chain.qualifier,
        "function_arn": chain.config_arn,
        "claims": [
            {
                "parameter": held.name,
                "owner_stack_id": held.record.owner.stack_id,
                "owner_logical_id": held.record.owner.logical_id,
                "owner_group": carrier(held.record.owner.logical_id),
                "stale": held.gone is not None,
                "reason": held.gone or "",
                "current": held is chain.current,
            }
            for held in chain.links
        ],
    }


def release_plan(
    chain: Chain | None,
    function: str,
    qualifier: str,
    force: bool,
    yes: bool,
    where: str,
    released: list[Held] | None = None,
) -> tuple[int, str]:
    """`release`'s exit code and what it says: done (`released`), to be done (without --yes), or why not."""
    config = f"{function} ({qualifier}) in {where}"
    if chain is None:
        return NOTHING, f"no claim of {config}: nothing to release"
    current = chain.current
    if current.gone is None and not force:
        return NOTHING, (
            f"{config} is owned by {owner(current)}, which still holds it: nothing released (--force releases it; "
            "that stack's next deploy then claims the config again, or fails if another stack did meanwhile)"
        )
    if released is not None:
        names = ", ".join(f"{owner(held)} ({held.name})" for held in released)
        return RELEASED, f"released the claims of {config}: {names}; the config itself is as it was"
    doomed = releasable(chain, force)
    names = ", ".join(f"{owner(held)} ({state(held)})" for held in doomed)
    return RELEASED, (
        f"would release the claims of {config}: {names}; the config itself stays as it is (pass --yes to release)"
        if not yes
        else f"releasing the claims of {config}: {names}"
    )
