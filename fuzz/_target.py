"""Shared body of the atheris fuzz targets: bytes -> a file -> a posbon reader; any exception is a crash.

A crash is an exception escaping a reader (readers turn bad input into Problems), or a Problem that is not
one line. atheris saves the input that caused it (fuzz/run.sh puts it in fuzz/crashes/).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["posbon"]):
    from posbon.domain import Item, Problem
    from posbon.ingest import read_source
    from posbon.text import analyze
    from posbon.text.normalize import normalize

_DIR = Path(tempfile.mkdtemp(prefix="posbon-fuzz-"))


def reader_target(name: str, fmt: str, prefix: bytes = b"") -> Callable[[bytes], None]:
    path = _DIR / name

    def one_input(data: bytes) -> None:
        path.write_bytes(prefix + data)
        for out in read_source(path, fmt, lambda a: a):
            if isinstance(out, Problem):
                if "\n" in str(out):
                    raise AssertionError(f"a Problem of more than one line: {out!r}")
            elif not isinstance(out, Item) or not isinstance(out.text, str):
                raise AssertionError(f"a reader yielded {out!r}")

    return one_input


def normalize_target(data: bytes) -> None:
    text = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data))
    facts = analyze(text)
    if facts.original is not text:
        raise AssertionError("analyze lost the original text")
    once = normalize(text)
    if normalize(once) != once:
        raise AssertionError(f"normalize is not idempotent on {text!r}")


def main(one_input: Callable[[bytes], None]) -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
