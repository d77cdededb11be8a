"""Reading call files (seed 000): CSV, JSON and JSONL with a row per call or a row per utterance,
plain-text transcripts with speaker labels, and WebVTT. Everything becomes `Call`s with ordered
utterances and normalised roles, or an `ImportReport` naming every bad row; nothing is written
here. Bytes are decoded by `user_files.decode`: by their byte-order mark (UTF-8, UTF-16 as Excel's
"Unicode text" writes it), else UTF-8, else Latin-1. Times (h:m:s, WebVTT cues) must be real times:
minutes and seconds below 60, a cue or utterance ending no earlier than it starts."""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePath

from workbench.errors import MAX_ERRORS, ImportReport
from workbench.user_files import NestedTooDeep, check_size, decode, load_json, separator

FORMATS = (".csv", ".json", ".jsonl", ".txt", ".vtt")
ROLES = ("agent", "customer", "system", "unknown")
ROLE_WORDS = {
    "agent": "agent",
    "rep": "agent",
    "representative": "agent",
    "support": "agent",
    "operator": "agent",
    "advisor": "agent",
    "assistant": "agent",
    "customer": "customer",
    "caller": "customer",
    "client": "customer",
    "user": "customer",
    "system": "system",
    "ivr": "system",
    "bot": "system",
}
_LABEL = re.compile(r"^\s*(?:\[(?P<ts>[\d:.]+)\]\s*)?(?P<who>[A-Za-z][\w .'-]{0,30}?)\s*:\s*(?P<text>.*)$")
_VTT_TIME = re.compile(r"(?P<a>[\d:.]+)\s*-->\s*(?P<b>[\d:.]+)")


@dataclass
class Utterance:
    role: str
    content: str
    index: int
    start_seconds: float | None = None
    end_seconds: float | None = None


@dataclass
class Call:
    external_id: str
    transcript: str
    started_at: datetime | None = None
    metadata: dict = field(default_factory=dict)
    utterances: list[Utterance] = field(default_factory=list)


def role_of(label: str) -> str:
    """agent, customer, system or unknown ("Speaker 1" and other names are unknown)."""
    word = re.sub(r"[^a-z]", "", (label or "").lower())
    return ROLE_WORDS.get(word, "unknown")


def read_calls(filename: str, data: bytes, max_mb: int = 50) -> list[Call]:
    """Parse one file into calls, or raise ImportReport listing what is wrong."""
    name = PurePath(filename).name
    suffix = PurePath(name).suffix.lower()
    if suffix not in FORMATS:
        raise ImportReport(
            name, [(None, f"unsupported type {suffix or '(none)'}; use one of {', '.join(FORMATS)}")]
        )
    check_size(name, len(data), max_mb)
    try:
        text = decode(data)
    except ValueError as exc:
        raise ImportReport(name, [(None, str(exc))]) from None
    if not text.strip():
        raise ImportReport(name, [(None, "the file is empty")])
    if suffix in (".txt", ".vtt"):
        stem = PurePath(name).stem
        try:
            vtt = suffix == ".vtt" or text.lstrip().startswith("WEBVTT")
            turns = _vtt(name, text) if vtt else _labelled(text)
        except ValueError as exc:
            raise ImportReport(name, [(None, str(exc))]) from None
        if not turns:
            raise ImportReport(name, [(None, "no speaker turns found (expected lines like 'Agent: ...')")])
        return [Call(stem, _transcript(turns), utterances=turns)]
    rows = _records(name, suffix, text)
    return _from_rows(name, rows)


def _records(name: str, suffix: str, text: str) -> list[dict]:
    if suffix == ".jsonl":
        return _jsonl(name, text)
    try:
        if suffix == ".csv":
            return list(csv.DictReader(io.StringIO(text), delimiter=separator(text)))
        loaded = load_json(text)
    except (ValueError, csv.Error) as exc:  # ValueError: also a number of over 4,300 digits, deep nesting
        raise ImportReport(name, [(None, f"not valid {suffix[1:].upper()}: {exc}")]) from None
    if isinstance(loaded, dict):
        loaded = loaded.get("calls") or loaded.get("utterances") or [loaded]
    if not isinstance(loaded, list) or not all(isinstance(r, dict) for r in loaded):
        raise ImportReport(name, [(None, "expected a list of objects, one per call or per utterance")])
    return loaded


def _jsonl(name: str, text: str) -> list[dict]:
    """One JSON value per line; a bad line is named by its line number."""
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                rows.append(load_json(line))
            except ValueError as exc:
                raise ImportReport(name, [(None, f"not valid JSONL: line {number}: {exc}")]) from None
    return rows


def _from_rows(name: str, rows: list[dict]) -> list[Call]:
    if not rows:
        raise ImportReport(name, [(None, "no rows")])
    columns = {k.strip().lower() for r in rows for k in r if k is not None}
    per_utterance = {"role", "content"} <= columns
    if not per_utterance and "transcript" not in columns:
        raise ImportReport(
            name,
            [
                (
                    None,
                    "needs either call_id and transcript (a row per call) or call_id, role,"
                    " content and index (a row per utterance)",
                )
            ],
        )
    problems: list[tuple[int | None, str]] = []
    calls: dict[str, Call] = {}
    for number, raw in enumerate(rows, start=1):
        if None in raw:  # csv.DictReader keeps the values beyond the header under None
            problems.append((number, "more values than the header has columns (an unquoted comma?)"))
            continue
        row = {k.strip().lower(): v for k, v in raw.items()}
        call_id = "" if row.get("call_id") is None else str(row["call_id"]).strip()
        if not call_id:
            problems.append((number, "missing call_id"))
            continue
        if per_utterance:
            _utterance_row(number, row, calls.setdefault(call_id, Call(call_id, "")), problems)
        else:
            _call_row(number, row, call_id, calls, problems)
        if len(problems) >= MAX_ERRORS:
            break
    for call in calls.values():
        call.utterances.sort(key=lambda u: u.index)
        if per_utterance:
            call.transcript = _transcript(call.utterances)
            seen: set[int] = set()
            for u in call.utterances:
                if u.index in seen:
                    problems.append(
                        (None, f"call {call.external_id}: utterance index {u.index} appears twice")
                    )
                seen.add(u.index)
    if problems:
        raise ImportReport(name, problems)
    return list(calls.values())


def _call_row(number: int, row: dict, call_id: str, calls: dict, problems: list) -> None:
    transcript = str(row.get("transcript") or "").strip()
    if not transcript:
        problems.append((number, f"call {call_id}: empty transcript"))
        return
    if call_id in calls:
        problems.append((number, f"call {call_id} appears twice in the file"))
        return
    try:
        turns = _labelled(transcript) or [Utterance("unknown", transcript, 0)]
    except ValueError as exc:
        problems.append((number, f"call {call_id}: {exc}"))
        return
    calls[call_id] = Call(
        call_id, transcript, _when(number, row, problems), _metadata(number, row, problems), turns
    )


def _utterance_row(number: int, row: dict, call: Call, problems: list) -> None:
    content = str(row.get("content") or "").strip()
    label = str(row.get("role") or "").strip()
    role = label.lower() if label.lower() in ROLES else role_of(label)
    if not content:
        problems.append((number, "empty content"))
    if role == "unknown" and label.lower() != "unknown" and not label.lower().startswith("speaker"):
        problems.append((number, f"unknown role {label!r}: use agent, customer, system or unknown"))
    try:
        index = _index(row.get("index", row.get("utterance_index", len(call.utterances))))
    except ValueError:
        problems.append((number, "index must be a whole number"))
        return
    try:
        start = _seconds(row.get("start_seconds", row.get("start")))
        end = _seconds(row.get("end_seconds", row.get("end")))
    except ValueError as exc:
        problems.append((number, f"start and end must be seconds or h:m:s: {exc}"))
        return
    if start is not None and end is not None and end < start:
        problems.append((number, f"end {end} is before start {start}"))
        return
    call.started_at = call.started_at or _when(number, row, problems)
    call.utterances.append(Utterance(role, content, index, start, end))


def _when(number: int, row: dict, problems: list) -> datetime | None:
    value = row.get("timestamp") or row.get("started_at")
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).strip().replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        problems.append((number, f"timestamp {value!r} is not an ISO date and time"))
        return None


def _metadata(number: int, row: dict, problems: list) -> dict:
    value = row.get("metadata")
    if value in (None, ""):
        return {}
    if isinstance(value, dict):
        return value
    try:
        loaded = load_json(value)
    except NestedTooDeep as exc:
        problems.append((number, f"metadata is {exc}"))
        return {}
    except (TypeError, ValueError):
        problems.append((number, "metadata must be a JSON object"))
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _index(value) -> int:
    """A whole number (also written as text or 2.0); ValueError for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{value!r} is not a whole number")
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        raise ValueError(f"{value!r} is not a whole number") from None
    if not number.is_integer() or abs(number) > 2**31 - 1:
        raise ValueError(f"{value!r} is not a whole number")
    return int(number)


def _seconds(value) -> float | None:
    """Seconds from a number or 'h:m:s' text; ValueError saying what is wrong otherwise."""
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{value!r} is not a time in seconds")
    text = str(value).strip()
    parts = text.split(":")
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        raise ValueError(f"{text!r} is not a time (seconds, or h:m:s)") from None
    colons = len(parts) > 1
    if len(parts) > 3 or not all(math.isfinite(n) for n in numbers) or colons and min(numbers) < 0:
        raise ValueError(f"{text!r} is not a time (seconds, or h:m:s)")
    if not all(n < 60 for n in numbers[1:]):  # 00:00:99 is no time, and neither is 1:75
        raise ValueError(f"{text!r} is not a time: minutes and seconds must be below 60")
    total = 0.0
    for number in numbers:
        total = total * 60 + number
    return total


def _labelled(text: str) -> list[Utterance]:
    """'Agent: ...' / 'Customer: ...' / '[00:01:02] Speaker 1: ...' lines; unlabelled lines continue the
    turn before them."""
    turns: list[Utterance] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _LABEL.match(line)
        if match and match.group("text").strip():
            try:
                start = _seconds(match.group("ts")) if match.group("ts") else None
            except ValueError as exc:
                raise ValueError(f"line {number}: {exc}") from None
            turns.append(
                Utterance(role_of(match.group("who")), match.group("text").strip(), len(turns), start)
            )
        elif turns:
            turns[-1].content += " " + line.strip()
    for turn, following in zip(turns, turns[1:], strict=False):  # a turn ends where the next starts
        if turn.start_seconds is not None and following.start_seconds is not None:
            turn.end_seconds = following.start_seconds
    return turns


def _vtt(name: str, text: str) -> list[Utterance]:
    """WebVTT cues; the speaker comes from <v Name> or a 'Name:' prefix. ImportReport naming the
    line of each cue whose times are impossible."""
    turns: list[Utterance] = []
    problems: list[tuple[int | None, str]] = []
    for block in _blocks(text):
        timing = next((i for i, (_n, line) in enumerate(block) if _VTT_TIME.search(line)), None)
        if timing is None:
            continue
        number, line = block[timing]
        match = _VTT_TIME.search(line)
        try:
            start, end = _cue_time(match.group("a")), _cue_time(match.group("b"))
        except ValueError as exc:
            problems.append((None, f"line {number}: {exc}"))
            continue
        if end < start:
            a, b = match.group("a"), match.group("b")
            problems.append((None, f"line {number}: the cue ends at {b}, before it starts ({a})"))
            continue
        body = " ".join(line for _n, line in block[timing + 1 :]).strip()
        voice = re.match(r"<v(?:\.[\w.]+)?\s+([^>]+)>(.*)", body)
        if voice:
            who, body = voice.group(1), re.sub(r"</v>", "", voice.group(2)).strip()
        else:
            labelled = _LABEL.match(body)
            who, body = (labelled.group("who"), labelled.group("text")) if labelled else ("", body)
        if body:
            turns.append(Utterance(role_of(who), body, len(turns), start, end))
    if problems:
        raise ImportReport(name, problems[:MAX_ERRORS])
    return turns


def _blocks(text: str) -> list[list[tuple[int, str]]]:
    """The blank-line separated blocks of a WebVTT file: their non-blank lines, stripped, each with
    its line number."""
    blocks: list[list[tuple[int, str]]] = [[]]
    for number, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        if line.strip():
            blocks[-1].append((number, line.strip()))
        elif blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


def _cue_time(stamp: str) -> float:
    """Seconds of a WebVTT timestamp, [hh:]mm:ss.ttt (without the hours, the minutes are below 60
    too); ValueError naming it when it is no time."""
    try:
        seconds = _seconds(stamp)
    except ValueError as exc:
        reason = "minutes and seconds must be below 60" if "below 60" in str(exc) else "write [hh:]mm:ss.ttt"
        raise ValueError(f"{stamp}: {reason}") from None
    if stamp.count(":") == 1 and seconds >= 3600:
        raise ValueError(f"{stamp}: minutes and seconds must be below 60 (or give the hours: hh:mm:ss.ttt)")
    return seconds


def _transcript(turns: list[Utterance]) -> str:
    return "\n".join(f"{u.role.capitalize()}: {u.content}" for u in turns)
