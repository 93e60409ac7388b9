"""Each live config's record, one SSM parameter per config (`/async-invoke-config/<function>/<qualifier>`), shared
by every stack of the account and region: which resource owns the config, what it declares, and the config as found
before its first Create. Written before the config is touched; read by the drift check and by every Delete."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError
from lambda_api import Api, error_code
from plan import Handover, Owner, Record
from settings import from_api

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
    """The SSM-backed records. Every call goes through `Api` (retried within the deadline)."""

    def __init__(self, ssm: Api) -> None:
        self.ssm = ssm

    def get(self, name: str) -> Record | None:
        try:
            parameter = self.ssm.call("get_parameter", Name=name)["Parameter"]
        except ClientError as error:
            if error_code(error) == "ParameterNotFound":
                return None
            raise
        return decode(parameter["Value"], int(parameter.get("Version", 0)))

    def get_many(self, names: list[str]) -> dict[str, Record | None]:
        found: dict[str, Record | None] = dict.fromkeys(names)
        for start in range(0, len(names), BATCH):
            page = self.ssm.call("get_parameters", Names=names[start : start + BATCH])
            for parameter in page.get("Parameters", []):
                found[parameter["Name"]] = decode(parameter["Value"], int(parameter.get("Version", 0)))
        return found

    def put(self, name: str, record: Record, new: bool = False) -> bool:
        """Write a record; with `new`, only if there is none (a claim), else False: someone else claimed it."""
        try:
            self.ssm.call("put_parameter", Name=name, Value=encode(record), Type="String", Overwrite=not new)
        except ClientError as error:
            if new and error_code(error) == "ParameterAlreadyExists":
                return False
            raise
        return True

    def delete(self, name: str) -> None:
        try:
            self.ssm.call("delete_parameter", Name=name)
        except ClientError as error:
            if error_code(error) != "ParameterNotFound":
                raise
