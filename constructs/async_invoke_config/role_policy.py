"""The handler role's inline policies: its logs (and their KMS key), its own stack and any stack's status (read
only), the claims of the stack's account and region (created only if absent, tagged with the claiming stack;
overwritten or deleted only where so tagged), and this stack's locks. The targets' grants are grants.py's."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Aws, Fn, Stack, Validations
from aws_cdk import aws_kms as kms
from constructs import Construct

from .grants import flatten
from .handler.contract import CLAIM_TAG, LOCKS, PARAMETER_ROOT

CLAIM_READS = ["ssm:GetParameter", "ssm:GetParameters"]
# The names of the claims the stack created, listed by their tag: how a scheduled drift check finds the members of
# the stack's groups. DescribeParameters names no resource (IAM authorizes it on `*` only) and returns names and
# metadata, never a value; granted only to a stack with both a group and a schedule.
CLAIM_LISTING = ["ssm:DescribeParameters"]
OWN_STACK_ACTIONS = ["cloudformation:ListStackResources"]
# A KMS key of the handler's log group, used through CloudWatch Logs only (kms:ViaService).
KEY_USE = ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]
# Any stack of the account and region, read only: whether the owner a claim names still exists.
STACK_READS = ["cloudformation:DescribeStacks", "cloudformation:DescribeStackResource"]
Statement = tuple[list[str], list[str], dict[str, Any] | None]


def inline_policies(
    stack: Stack, log_group_arn: str, log_key: kms.IKey | None, lists_claims: bool = False
) -> list[dict[str, Any]]:
    """The role's inline policies, as `AWS::IAM::Role` `Policies`; `lists_claims` for a scheduled check that finds
    group members by their claims."""
    stack_uuid = Fn.select(2, Fn.split("/", Aws.STACK_ID))
    claims = [parameter_arn(stack, claims_path(stack))]
    locks = [parameter_arn(stack, locks_path())]
    own = {"StringEquals": {f"aws:ResourceTag/{CLAIM_TAG}": stack_uuid}}
    created_as_this_stack = {
        "StringEquals": {"ssm:Overwrite": "false", f"aws:RequestTag/{CLAIM_TAG}": stack_uuid},
        "ForAllValues:StringEquals": {"aws:TagKeys": [CLAIM_TAG]},
    }
    logs: list[Statement] = [
        (["logs:CreateLogStream", "logs:PutLogEvents"], [log_group_arn, f"{log_group_arn}:*"], None)
    ]
    if log_key is not None:  # what CloudWatch Logs asks of the key on behalf of the role that writes the logs
        via_logs = {"StringEquals": {"kms:ViaService": f"logs.{stack.region}.amazonaws.com"}}
        logs.append((KEY_USE, [log_key.key_arn], via_logs))
    return [
        {"PolicyName": "Logs", "PolicyDocument": document(logs)},
        {
            "PolicyName": "Stacks",
            "PolicyDocument": document(
                [(OWN_STACK_ACTIONS, [Aws.STACK_ID], None), (STACK_READS, [stacks_arn(stack)], None)]
            ),
        },
        {
            "PolicyName": "Claims",
            "PolicyDocument": document(
                [
                    (CLAIM_READS, claims, None),
                    (["ssm:PutParameter"], claims, created_as_this_stack),
                    # tagging as part of that create only: a call of its own carries no ssm:Overwrite
                    (["ssm:AddTagsToResource"], claims, created_as_this_stack),
                    (["ssm:PutParameter", "ssm:DeleteParameter"], claims, own),
                    *([(CLAIM_LISTING, ["*"], None)] if lists_claims else []),
                ]
            ),
        },
        {
            "PolicyName": "Locks",
            "PolicyDocument": document(
                [
                    (["ssm:GetParameter", "ssm:DeleteParameter"], locks, None),
                    (["ssm:PutParameter"], locks, {"StringEquals": {"ssm:Overwrite": "false"}}),
                ]
            ),
        },
    ]


def acknowledge_parameters(role: Construct, stack: Stack, lists_claims: bool = False) -> None:
    """The inline policies' wildcards, each acknowledged with its reason."""
    if lists_claims:
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "ssm:DescribeParameters takes no resource: the scheduled drift check lists the names of this stack's "
            "claims (filtered by their tag) to find the members of its groups; it reads no value with it.",
        )
    acknowledge(
        role,
        f"AwsSolutions-IAM5[Resource::{flatten(stack.resolve(parameter_arn(stack, claims_path(stack))))}]",
        "Any config of the stack's account and region may be claimed (created only if absent, tagged with this "
        "stack); claims are read whatever their stack, and overwritten or deleted only where tagged with this "
        "stack.",
    )
    acknowledge(
        role,
        f"AwsSolutions-IAM5[Resource::{flatten(stack.resolve(parameter_arn(stack, locks_path())))}]",
        "Each config resource of this stack holds a lock of its own, under this stack's part of `locks/`, while "
        "one of its events runs.",
    )
    acknowledge(
        role,
        f"AwsSolutions-IAM5[Resource::{flatten(stack.resolve(stacks_arn(stack)))}]",
        "Whether the owner a claim names still exists is read (never written) from that stack, whichever it is.",
    )


def claims_path(stack: Stack) -> str:
    return f"{stack.account}/{stack.region}/*"


def locks_path() -> str:
    return f"{LOCKS}/{Fn.select(2, Fn.split('/', Aws.STACK_ID))}/*"


def parameter_arn(stack: Stack, path: str) -> str:
    return stack.format_arn(service="ssm", resource="parameter", resource_name=f"{PARAMETER_ROOT.lstrip('/')}/{path}")


def stacks_arn(stack: Stack) -> str:
    return stack.format_arn(service="cloudformation", resource="stack", resource_name="*/*")


def document(statements: list[Statement]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": resources}
            | ({"Condition": condition} if condition else {})
            for actions, resources, condition in statements
        ],
    }


def acknowledge(scope: Construct, rule: str, reason: str) -> None:
    """A policy-validation finding (cdk-nag v3) accepted with its reason, through aws-cdk-lib's own API."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))
