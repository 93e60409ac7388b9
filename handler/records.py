"""Each live config's claim, kept in SSM: which resource owns the config, what it declares, and the config as found
before its first Create. Written before the config is touched; read by every event of the config, by the drift check
and by the drift report.

One parameter per config (`contract.claim_name`), created only if absent and tagged with the creating stack: the
service itself decides who owns a config, whatever a read returned a moment before, and IAM lets a stack's handler
overwrite or delete its own stack's claims only. A claim whose owner is gone is succeeded by a claim named after its
claim id (`contract.successor_name`), created the same way; the claim that counts is the last one of that chain."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import ClientError
from contract import CLAIM_TAG, PARAMETER_ROOT, PARAMETER_TIER, SUCCESSOR, claim_name, stack_key, successor_name
from lambda_api import DENIED_CODES, Api, error_code
from plan import Handover, Owner, Record
from settings import Target, from_api

BATCH = 10  # GetParameters takes at most 10 names
LISTED = 50  # DescribeParameters lists at most 50 a page


def encode(record: Record) -> str:
    def handover(previous: Handover) -> dict[str, Any]:
        return {"owner": [*_owner(previous.owner)], "declared": previous.declared.request(), "retain": previous.retain}

    fields: dict[str, Any] = {"owner": [*_owner(record.owner)], "declared": record.declared.request()}
    if record.claim_id:
        fields["id"] = record.claim_id
    if record.retain:
        fields["retain"] = True
    if record.prior is not None:
        fields["prior"] = record.prior.request()
    if record.previous is not None:
        fields["previous"] = handover(record.previous)
    if record.leaving:
        fields["leaving"] = True
    return json.dumps(fields, sort_keys=True, separators=(",", ":"))


def decode(text: str, version: int = 0) -> Record:
    fields = json.loads(text)
    previous = fields.get("previous")
    return Record(
        owner=Owner(*fields["owner"]),
        declared=from_api(fields["declared"]),
        retain=bool(fields.get("retain")),
        prior=from_api(fields["prior"]) if "prior" in fields else None,
        previous=Handover(Owner(*previous["owner"]), from_api(previous["declared"]), bool(previous.get("retain")))
        if previous
        else None,
        claim_id=str(fields.get("id", "")),
        leaving=bool(fields.get("leaving")),
        version=version,
    )


def _owner(owner: Owner) -> tuple[str, str]:
    return owner.stack_id, owner.logical_id


def stack_home(stack_id: str) -> tuple[str, str]:
    """The account and region of a stack's claims (its own: `arn:PARTITION:cloudformation:REGION:ACCOUNT:...`)."""
    region, account = stack_id.split(":")[3:5]
    return account, region


def claimed_config(name: str, partition: str) -> str:
    """The qualified ARN of the config a claim is of (its `claim_name`, or a successor's): `claim_name` backwards."""
    head, _, last = name.rpartition("/")
    base = head if last.startswith(SUCCESSOR) else name
    account, region, function, qualifier = base.rsplit("/", 4)[-4:]
    qualifier = "$" + qualifier[1:] if qualifier.startswith(".") else qualifier
    return f"arn:{partition}:lambda:{region}:{account}:function:{function}:{qualifier}"


@dataclass(frozen=True)
class Link:
    """One claim of a config's chain: the parameter `name`, and the record it holds (None: no claim there)."""

    name: str
    record: Record | None
    base: str  # the config's first claim (`contract.claim_name`)

    def successor(self) -> str:
        assert self.record is not None
        return successor_name(self.base, self.record.claim_id)


class Records:
    """One stack's view of the claims. Every call goes through `Api` (retried within the deadline)."""

    def __init__(self, ssm: Api, stack_id: str, new_id: Callable[[], str] = lambda: uuid.uuid4().hex[:16]) -> None:
        self.ssm = ssm
        self.stack_id = stack_id
        self.new_id = new_id

    def base(self, target: Target) -> str:
        return claim_name(target.arn(self.stack_id))

    def get(self, name: str) -> Record | None:
        try:
            parameter = self.ssm.call("get_parameter", Name=name)["Parameter"]
        except ClientError as error:
            if error_code(error) == "ParameterNotFound":
                return None
            raise
        return decode(parameter["Value"], int(parameter.get("Version", 0)))

    def find(self, target: Target) -> Link:
        """The claim that counts for this stack: the config's claim, or, while it names another stack's resource, the
        claim that succeeded it (if any), and so on. The first claim this stack holds stops the walk."""
        base = self.base(target)
        return self.walk(Link(base, self.get(base), base))

    def walk(self, link: Link) -> Link:
        while link.record is not None and link.record.owner.stack_id != self.stack_id:
            successor = self.get(link.successor())
            if successor is None:
                break
            link = Link(link.successor(), successor, link.base)
        return link

    def held(self, targets: list[Target]) -> dict[Target, Link]:
        """Each config's claim that counts for this stack (as `find`), the first claims read in batches."""
        bases = {self.base(target): target for target in targets}
        found = self.read(list(bases))
        return {target: self.walk(Link(base, found.get(base), base)) for base, target in bases.items()}

    def read(self, names: list[str]) -> dict[str, Record]:
        """The claims of those names that exist, read in batches."""
        found: dict[str, Record] = {}
        for start in range(0, len(names), BATCH):
            page = self.ssm.call("get_parameters", Names=names[start : start + BATCH])
            for parameter in page.get("Parameters", []):
                found[parameter["Name"]] = decode(parameter["Value"], int(parameter.get("Version", 0)))
        return found

    def tagged(self) -> list[str]:
        """The names of the claims this stack created (tagged with it), in the stack's account and region: its own
        configs' and its groups' members', current or not (a record says whose each is). Names only, listed by
        the service's tag filter; SSM returns a filtered page on a best-effort basis (fewer than asked, even none,
        with a token for more), so the pages are followed to the end."""
        account, region = stack_home(self.stack_id)
        filters = [
            {"Key": "Path", "Option": "Recursive", "Values": [f"{PARAMETER_ROOT}/{account}/{region}"]},
            {"Key": f"tag:{CLAIM_TAG}", "Values": [stack_key(self.stack_id)]},
        ]
        names: list[str] = []
        params: dict[str, Any] = {"ParameterFilters": filters, "MaxResults": LISTED}
        while True:
            page = self.ssm.call("describe_parameters", **params)
            names += [str(parameter["Name"]) for parameter in page.get("Parameters", [])]
            if not page.get("NextToken"):
                return names
            params["NextToken"] = page["NextToken"]

    def create(self, name: str, record: Record) -> Record | None:
        """Claim `name` for `record` (with a new claim id) only if no claim is there: the service decides. None when
        there was one."""
        created = replace(record, claim_id=self.new_id(), version=1)
        try:
            self.ssm.call(
                "put_parameter",
                final=lambda: self.get(name) is not None,  # IAM may refuse to tag another stack's claim instead
                Name=name,
                Value=encode(created),
                Type="String",
                Overwrite=False,
                Tier=PARAMETER_TIER,
                Tags=[{"Key": CLAIM_TAG, "Value": stack_key(self.stack_id)}],
            )
        except ClientError as error:
            if error_code(error) in ("ParameterAlreadyExists", *DENIED_CODES):
                return None
            raise
        return created

    def overwrite(self, name: str, record: Record) -> None:
        """Rewrite a claim this stack holds (IAM allows no other)."""
        self.ssm.call(
            "put_parameter", Name=name, Value=encode(record), Type="String", Overwrite=True, Tier=PARAMETER_TIER
        )

    def delete(self, name: str) -> None:
        try:
            self.ssm.call("delete_parameter", Name=name)
        except ClientError as error:
            if error_code(error) != "ParameterNotFound":
                raise
