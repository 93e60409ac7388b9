"""The IAM stand-in evaluates the condition keys the handler's policy relies on as AWS documents them, and the policy
the construct synthesizes lets a stack create any claim but overwrite or delete only its own stack's."""

from __future__ import annotations

from typing import Any

import iam
import pytest
from contract import CLAIM_TAG
from stack_harness import synthesized_policy

STACK_ID = "arn:aws:cloudformation:us-east-1:000000000000:stack/Orders/11111111-1111-1111-1111-111111111111"
OWN = STACK_ID.rsplit("/", 1)[1]
OTHER = "22222222-2222-2222-2222-222222222222"
CLAIM = "arn:aws:ssm:us-east-1:000000000000:parameter/async-invoke-config/000000000000/us-east-1/orders/.LATEST"
LOCK = f"arn:aws:ssm:us-east-1:000000000000:parameter/async-invoke-config/locks/{OWN}/OrdersAsync"
OTHER_LOCK = f"arn:aws:ssm:us-east-1:000000000000:parameter/async-invoke-config/locks/{OTHER}/OrdersAsync"


def context(request: dict[str, Any], tags: dict[str, str] | None = None) -> iam.Context:
    return iam.Context(request, lambda: tags)


def put(overwrite: bool | None = None, tags: dict[str, str] | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"Name": "/x", "Value": "v", "Type": "String"}
    if overwrite is not None:
        params["Overwrite"] = overwrite
    if tags:
        params["Tags"] = [{"Key": key, "Value": value} for key, value in tags.items()]
    return iam.request_context("ssm", "PutParameter", params)


def tag(tags: dict[str, str]) -> dict[str, Any]:
    """An AddTagsToResource call of its own."""
    params = {
        "ResourceType": "Parameter",
        "ResourceId": "/x",
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }
    return iam.request_context("ssm", "AddTagsToResource", params)


CREATE_ONLY = [
    {
        "Effect": "Allow",
        "Action": "ssm:PutParameter",
        "Resource": "*",
        "Condition": {
            "StringEquals": {"ssm:Overwrite": "false", f"aws:RequestTag/{CLAIM_TAG}": OWN},
            "ForAllValues:StringEquals": {"aws:TagKeys": [CLAIM_TAG]},
        },
    }
]


@pytest.mark.parametrize(
    ("request_", "allowed"),
    [
        (put(False, {CLAIM_TAG: OWN}), True),
        (put(True, {CLAIM_TAG: OWN}), False),  # an overwrite
        (put(None, {CLAIM_TAG: OWN}), False),  # ssm:Overwrite absent: StringEquals fails on a missing key
        (put(False, {CLAIM_TAG: OTHER}), False),  # tagged as another stack's
        (put(False, {CLAIM_TAG: OWN, "extra": "x"}), False),  # ForAllValues: every key must be listed
        (put(False), False),  # no tag at all: aws:RequestTag absent
    ],
    ids=["create own", "overwrite", "no overwrite key", "other's tag", "extra tag", "untagged"],
)
def test_create_only_claims_as_the_condition_keys_mean(request_, allowed):
    assert iam.allows(CREATE_ONLY, "ssm:PutParameter", CLAIM, context(request_)) is allowed


def test_a_create_over_another_stacks_claim_is_authorized_and_left_to_the_service(policy):
    """PutParameter with Overwrite=false and tags, on a claim that exists: IAM allows it (the request's tagging is
    authorized with the request's own keys), and the service answers ParameterAlreadyExists."""
    create = put(False, {CLAIM_TAG: OWN})

    assert verdict(policy, "ssm:PutParameter", CLAIM, create, {CLAIM_TAG: OTHER})
    assert verdict(policy, "ssm:AddTagsToResource", CLAIM, create, {CLAIM_TAG: OTHER})


def test_null_and_if_exists_follow_a_missing_key():
    statement = {"Effect": "Allow", "Action": "ssm:AddTagsToResource", "Resource": "*"}
    untagged = [statement | {"Condition": {"Null": {f"aws:ResourceTag/{CLAIM_TAG}": "true"}}}]
    if_exists = [statement | {"Condition": {"StringEqualsIfExists": {f"aws:ResourceTag/{CLAIM_TAG}": OWN}}}]

    assert iam.allows(untagged, "ssm:AddTagsToResource", CLAIM, context({}, None))  # being created: no tags
    assert not iam.allows(untagged, "ssm:AddTagsToResource", CLAIM, context({}, {CLAIM_TAG: OTHER}))
    assert iam.allows(if_exists, "ssm:AddTagsToResource", CLAIM, context({}, None))
    assert not iam.allows(if_exists, "ssm:AddTagsToResource", CLAIM, context({}, {CLAIM_TAG: OTHER}))


def test_an_operator_the_checker_does_not_know_fails_closed():
    unknown = {"NumericLessThan": {"aws:MultiFactorAuthAge": "300"}}
    allow: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*", "Condition": unknown}
    ]
    deny: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"},
        {"Effect": "Deny", "Action": "ssm:GetParameter", "Resource": "*", "Condition": unknown},
    ]

    assert not iam.allows(allow, "ssm:GetParameter", CLAIM, context({}))
    assert not iam.allows(deny, "ssm:GetParameter", CLAIM, context({}))


@pytest.fixture(scope="module")
def policy() -> list[dict[str, Any]]:
    """The handler's statements as a stack declaring a config on `orders` synthesizes them, resolved for STACK_ID."""
    return synthesized_policy(["orders"], STACK_ID)


def verdict(policy, action: str, resource: str, request: dict[str, Any], tags: dict[str, str] | None) -> bool:
    world = iam.World(policy, tags=lambda arn: tags)
    return world.verdict(action, [resource], request) == iam.ALLOWED


@pytest.mark.parametrize(
    ("action", "request_", "tags", "allowed"),
    [
        ("ssm:PutParameter", put(False, {CLAIM_TAG: OWN}), None, True),  # claim a config no one claims
        ("ssm:AddTagsToResource", put(False, {CLAIM_TAG: OWN}), None, True),  # ... tagging it as it is created
        ("ssm:PutParameter", put(False, {CLAIM_TAG: OTHER}), None, False),  # ... as another stack's
        ("ssm:PutParameter", put(True), {CLAIM_TAG: OWN}, True),  # rewrite its own stack's claim
        ("ssm:DeleteParameter", {}, {CLAIM_TAG: OWN}, True),  # release it
        ("ssm:PutParameter", put(True), {CLAIM_TAG: OTHER}, False),  # overwrite another stack's claim
        ("ssm:DeleteParameter", {}, {CLAIM_TAG: OTHER}, False),  # delete another stack's claim
        ("ssm:AddTagsToResource", tag({CLAIM_TAG: OWN}), {CLAIM_TAG: OTHER}, False),  # retag another's claim
        ("ssm:AddTagsToResource", tag({CLAIM_TAG: OWN}), None, False),  # tag an untagged one, outside a create
        ("ssm:PutParameter", put(True), None, False),  # recreate a claim, untagged, by an overwrite
        ("ssm:GetParameter", {}, {CLAIM_TAG: OTHER}, True),  # read any claim
    ],
)
def test_the_synthesized_policy_lets_a_stack_change_its_own_claims_only(policy, action, request_, tags, allowed):
    assert verdict(policy, action, CLAIM, request_, tags) is allowed


def test_the_synthesized_policy_gives_each_stack_its_own_locks(policy):
    create = iam.request_context("ssm", "PutParameter", {"Overwrite": False})
    overwrite = iam.request_context("ssm", "PutParameter", {"Overwrite": True})

    assert verdict(policy, "ssm:PutParameter", LOCK, create, None)
    assert verdict(policy, "ssm:DeleteParameter", LOCK, {}, {})
    assert not verdict(policy, "ssm:PutParameter", LOCK, overwrite, {})
    assert not verdict(policy, "ssm:PutParameter", OTHER_LOCK, create, None)
    assert not verdict(policy, "ssm:DeleteParameter", OTHER_LOCK, {}, {})


def test_the_synthesized_policy_reads_any_stack_and_lists_its_own(policy):
    other_stack = f"arn:aws:cloudformation:us-east-1:000000000000:stack/Billing/{OTHER}"

    assert verdict(policy, "cloudformation:DescribeStacks", other_stack, {}, {})
    assert verdict(policy, "cloudformation:DescribeStackResource", other_stack, {}, {})
    assert not verdict(policy, "cloudformation:ListStackResources", other_stack, {}, {})
    assert verdict(policy, "cloudformation:ListStackResources", STACK_ID, {}, {})
    assert not verdict(policy, "cloudformation:UpdateStack", other_stack, {}, {})
