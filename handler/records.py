"""Each live config's record: which resource owns the config, what it declares, and the config as found before its
first Create. Written before the config is touched; read by the drift check and by every Delete.

A stack keeps its records under its own name, `/async-invoke-config/<function>/<qualifier>/<stack>`, so that its
handler may write no other stack's; the config's claims (one per stack that claims it) are the parameters under
`/async-invoke-config/<function>/<qualifier>`, which every stack may read."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError
from contract import claims_path, record_name
from lambda_api import Api, error_code
from plan import Handover, Owner, Record
from settings import Target, from_api

BATCH = 10  # GetParameters takes at most 10 names


def encode(record: Record) -> str:
    def handover(previous: Handover) -> dict[str, Any]:
        return {"owner": [*_owner(previous.owner)], "declared": previous.declared.request(), "retain": previous.retain}

    fields: dict[str, Any] = {"owner": [*_owner(record.owner)], "declared": record.declared.request()}
    if record.retain:
        fields["retain"] = True
    if record.prior is not None:
        fields["prior"] = record.prior.request()
    if record.previous is not None:
        fields["previous"] = handover(record.previous)
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
        version=version,
    )


def _owner(owner: Owner) -> tuple[str, str]:
    return owner.stack_id, owner.logical_id


class Records:
    """One stack's SSM-backed records. Every call goes through `Api` (retried within the deadline)."""

    def __init__(self, ssm: Api, stack_id: str) -> None:
        self.ssm = ssm
        self.stack_id = stack_id

    def name(self, target: Target) -> str:
        return record_name(target.function_name, target.qualifier, self.stack_id)

    def get(self, target: Target) -> Record | None:
        try:
            parameter = self.ssm.call("get_parameter", Name=self.name(target))["Parameter"]
        except ClientError as error:
            if error_code(error) == "ParameterNotFound":
                return None
            raise
        return decode(parameter["Value"], int(parameter.get("Version", 0)))

    def claims(self, target: Target) -> tuple[Record | None, list[Record]]:
        """This stack's record of a config, and the other stacks' records of it (their claims)."""
        own, others = None, []
        token = None
        while True:
            more: dict[str, str] = {"NextToken": token} if token else {}
            path = claims_path(target.function_name, target.qualifier)
            page = self.ssm.call("get_parameters_by_path", Path=path, **more)
            for parameter in page.get("Parameters", []):
                record = decode(parameter["Value"], int(parameter.get("Version", 0)))
                if parameter["Name"] == self.name(target):
                    own = record
                else:
                    others.append(record)
            token = page.get("NextToken")
            if not token:
                return own, others

    def get_many(self, targets: list[Target]) -> dict[Target, Record | None]:
        names = {self.name(target): target for target in targets}
        found: dict[Target, Record | None] = dict.fromkeys(targets)
        batch = list(names)
        for start in range(0, len(batch), BATCH):
            page = self.ssm.call("get_parameters", Names=batch[start : start + BATCH])
            for parameter in page.get("Parameters", []):
                found[names[parameter["Name"]]] = decode(parameter["Value"], int(parameter.get("Version", 0)))
        return found

    def put(self, target: Target, record: Record, new: bool = False) -> bool:
        """Write a record; with `new`, only if there is none (a claim), else False: it was written meanwhile."""
        try:
            self.ssm.call(
                "put_parameter", Name=self.name(target), Value=encode(record), Type="String", Overwrite=not new
            )
        except ClientError as error:
            if new and error_code(error) == "ParameterAlreadyExists":
                return False
            raise
        return True

    def delete(self, target: Target) -> None:
        try:
            self.ssm.call("delete_parameter", Name=self.name(target))
        except ClientError as error:
            if error_code(error) != "ParameterNotFound":
                raise
