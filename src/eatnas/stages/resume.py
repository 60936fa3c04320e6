"""Resume or restart a search folder before a workflow job runs the search in it.

A search resumes from its ``history.jsonl`` and ``state/`` snapshots, which Snakemake does not delete
(they are not declared outputs). That is right after a kill (same inputs), wrong after the inputs
changed (new config or offspring): the old history belongs to another search. The job therefore
records a digest of its config key and input files in ``<out>/.inputs.sha256`` before the search starts; when the digest
differs, or the folder holds files without a digest, they are moved to ``<out>.stale/`` first.

Usage: ``python -m eatnas.stages.resume --out DIR [--key KEY] [FILE...]``
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import shutil
import sys
from pathlib import Path
from typing import Sequence

from eatnas.errors import EatnasError

DIGEST_FILE = ".inputs.sha256"
log = logging.getLogger(__name__)


def inputs_digest(files: Sequence[str | Path], key: str = "") -> str:
    """SHA-256 over ``key`` (the job's config key) and the names and contents of ``files``."""
    h = hashlib.sha256(key.encode() + b"\0")
    for f in sorted(str(p) for p in files):
        path = Path(f)
        if not path.is_file():
            raise EatnasError(f"input {f!r} does not exist; run the stage that writes it first")
        h.update(f.encode() + b"\0")
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def prepare(out: str | Path, files: Sequence[str | Path], key: str = "") -> str:
    """Keep ``out`` when it was started from the same inputs ("resume"), else move it aside ("fresh")."""
    out = Path(out)
    digest = inputs_digest(files, key)
    marker = out / DIGEST_FILE
    if marker.is_file() and marker.read_text().strip() == digest:
        return "resume"
    if out.exists() and any(out.iterdir()):
        stale = out.with_name(out.name + ".stale")
        shutil.rmtree(stale, ignore_errors=True)
        out.rename(stale)
        log.warning("%s was started from other inputs; moved it to %s and starting afresh", out, stale)
    out.mkdir(parents=True, exist_ok=True)
    marker.write_text(digest + "\n")
    return "fresh"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eatnas.stages.resume", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="the search output folder")
    parser.add_argument("--key", default="", help="digest of the config sections the job depends on")
    parser.add_argument("files", nargs="*", help="the job's input files (other than the config)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        mode = prepare(args.out, args.files, args.key)
    except EatnasError as exc:
        print(f"eatnas: error: {exc}", file=sys.stderr)
        return 2
    print(f"resume: {args.out}: {mode}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
