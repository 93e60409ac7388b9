"""What a synth printed, its warnings mostly: read from the CDK CLI's output or from the cloud assembly, and shown in
a step as printed, or, after the first, as what changed."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Message:
    """An annotation the synth printed: its level (WARNING, INFO, ERROR), the construct's path, the text and how to
    acknowledge it."""

    level: str
    path: str
    text: str
    acknowledge: str = ""


LOCATION = re.compile(r"\S+:\d+:\d+")  # where in the app's (JavaScript) code an annotation was added
ANNOTATION = re.compile(r"(?P<level>WARNING|INFO|ERROR) (?P<text>.*?)(?: \(Construct Annotations\))?")
LEVELS = {"aws:cdk:warning": "WARNING", "aws:cdk:info": "INFO", "aws:cdk:error": "ERROR"}


def printed(stderr: str) -> tuple[Message | str, ...]:
    """What the CDK CLI printed on synth, as messages and other lines (a notice), less where it wrote the cloud
    assembly, the stack ids it lists and each annotation's place in the compiled code (a temporary folder's)."""
    found: list[Message | str] = []
    parts: list[str] = []  # the annotation being read: level, text, then its indented lines
    for line in [*stderr.splitlines(), ""]:
        if LOCATION.fullmatch(line.strip()):
            continue
        if parts and line.startswith(" ") and line.strip():
            parts.append(line.strip())
            continue
        if parts:
            acknowledge = next(
                (part.removeprefix("Acknowledge with ") for part in parts[2:] if part.startswith("Ack")), ""
            )
            path = next((part for part in parts[2:] if not part.startswith("Ack")), "")
            found.append(Message(parts[0], path, parts[1], acknowledge))
            parts = []
        annotation = ANNOTATION.fullmatch(line)
        if annotation is not None:
            parts = [annotation["level"], annotation["text"]]
        elif line.strip() and not line.startswith(("Successfully synthesized to ", "Supply a stack id")):
            found.append(line.strip())
    return tuple(found)


def assembly_messages(outdir: Path) -> tuple[Message | str, ...]:
    """The messages a synth without the CLI (`python app.py`) leaves in the cloud assembly, as the CLI prints them."""
    found: list[Message | str] = []
    for metadata in sorted(outdir.glob("*.metadata.json")):
        for path, entries in json.loads(metadata.read_text()).items():
            for entry in entries:
                if entry["type"] in LEVELS:
                    text, _, acknowledge = str(entry["data"]).partition(" [ack: ")
                    acknowledge = f"'Annotation::{acknowledge.removesuffix(']')}'" if acknowledge else ""
                    found.append(Message(LEVELS[entry["type"]], path.lstrip("/"), text, acknowledge))
    return tuple(found)


def synth_lines(
    command: str, messages: tuple[Message | str, ...], shown: tuple[Message | str, ...] | None
) -> list[str]:
    """What a synth printed (its warnings, mostly), or, when the report showed an earlier synth's, what changed."""
    if shown is None:
        lines, marks = (
            [f"{command} printed {len(messages)} messages:" if messages else f"{command} printed nothing"],
            {},
        )
    else:
        new = tuple(message for message in messages if message not in shown)
        places = {(m.level, m.path) for m in new if isinstance(m, Message)}
        gone = [
            m for m in shown if m not in messages and (not isinstance(m, Message) or (m.level, m.path) not in places)
        ]
        kept = len(messages) - len(new)
        lines = [f"{command}: the synth's messages changed (the other {kept} as shown before):"]
        lines += [
            f"   no longer printed: {m.level} at {m.path}" if isinstance(m, Message) else f"   no longer: {m}"
            for m in gone
        ]
        old = {(m.level, m.path) for m in shown if isinstance(m, Message)}
        marks = {m: "changed" if (m.level, m.path) in old else "new" for m in new if isinstance(m, Message)}
        messages = new
    for message in messages:
        if isinstance(message, str):
            lines.append(f"   {message}")
            continue
        mark = f" ({marks[message]})" if message in marks else ""
        lines.append(f"   {message.level} at {message.path}{mark}: {message.text}")
        lines += [f"      acknowledge with {message.acknowledge}"] if message.acknowledge else []
    return lines
