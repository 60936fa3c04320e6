"""Atomic file writes, JSON object files and append-only JSON-lines files."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

from eatnas.errors import EatnasError

log = logging.getLogger(__name__)


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Write ``path`` through ``write(fileobj)`` into a temp file, fsync, then rename over ``path``.

    A kill at any moment leaves either the old file or the new one, never half of one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda fh: fh.write(text), mode="w")


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    return write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy / torch scalars
        return obj.item()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def read_json_object(path: str | os.PathLike, fix: str, *, missing: str | None = None,
                     error: type[EatnasError] = EatnasError) -> dict[str, Any]:
    """Read a file holding one JSON object; a missing, unparsable or non-object file raises ``error``
    naming the path, followed by ``fix`` (what to do), or by ``missing`` when the file does not exist."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: missing; {missing or fix}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8 text"
        raise error(f"{path}: not valid JSON ({reason}{where}); {fix}") from None
    if not isinstance(data, dict):
        raise error(f"{path}: expected a JSON object, found {type(data).__name__}; {fix}")
    return data


def append_jsonl(path: str | os.PathLike, record: dict) -> None:
    """Append one record as one line and fsync; a kill mid-write leaves at most one torn last line."""
    line = json.dumps(record, default=_json_default, separators=(",", ":")) + "\n"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def read_jsonl(path: str | os.PathLike) -> Iterator[dict]:
    """Yield records of a JSON-lines file; a torn (unparsable) *last* line is skipped with a warning.

    A malformed line anywhere else is corruption and raises ``ValueError`` naming the line.
    """
    path = Path(path)
    if not path.exists():
        return
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                log.warning("%s: ignoring torn last line %d (interrupted write)", path, i + 1)
                return
            raise ValueError(f"{path}: line {i + 1} is not valid JSON; the file is corrupted") from None


def truncate_torn_tail(path: str | os.PathLike) -> None:
    """Drop an unterminated or unparsable last line so that later appends start on a clean line."""
    path = Path(path)
    if not path.exists():
        return
    data = path.read_bytes()
    body, _, tail = data.rpartition(b"\n")
    if tail:  # last line has no newline: torn write
        keep = body + b"\n" if body else b""
    else:
        prev_body, _, last = body.rpartition(b"\n")
        try:
            if last.strip():
                json.loads(last)
            return
        except json.JSONDecodeError:
            keep = prev_body + b"\n" if prev_body else b""
    log.warning("%s: removing torn last line left by an interrupted write", path)
    atomic_write(path, lambda fh: fh.write(keep))
