"""Language identification on short posts: CLD2 alone, fastText lite alone, posbon's combination.

    python bench/langid.py [--corpus bench/data/langid_posts.jsonl] [--words N ...]

Reads the corpus (one JSON object a line: lang, script, text), runs each detector on every post and on the
first N words of every post (harder: Telegram captions are often that short), and prints accuracy per
language (legacy-typed Tajik shown on its own row too), then the mean time per call of `detect_language`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from posbon.domain import LanguageGuess
from posbon.text.language import detect_cld2, detect_fasttext, detect_language

DEFAULT_CORPUS = Path(__file__).parent / "data" / "langid_posts.jsonl"
DETECTORS: dict[str, Callable[[str], LanguageGuess]] = {
    "cld2": detect_cld2,
    "fasttext-lite": detect_fasttext,
    "posbon": detect_language,
}


def load(path: Path) -> list[dict[str, str]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            rows.append({"lang": str(row["lang"]), "script": str(row["script"]), "text": str(row["text"])})
        except (ValueError, KeyError, TypeError) as exc:
            print(f"{path}:{number}: skipped, not a corpus line ({exc})", file=sys.stderr)
    return rows


def group_of(row: dict[str, str]) -> str:
    if row["script"] == "Cyrl-legacy":
        return "tg (legacy letters)"
    if row["lang"] == "uz":
        return f"uz ({row['script']})"
    return row["lang"]


def table(rows: list[dict[str, str]], words: int | None) -> tuple[str, dict[str, int]]:
    groups = sorted({group_of(r) for r in rows})
    total: Counter[str] = Counter(group_of(r) for r in rows)
    right: dict[str, Counter[str]] = {name: Counter() for name in DETECTORS}
    for row in rows:
        text = row["text"] if words is None else " ".join(row["text"].split()[:words])
        for name, detect in DETECTORS.items():
            if detect(text).code == row["lang"]:
                right[name][group_of(row)] += 1
    title = "whole posts" if words is None else f"first {words} words of each post"
    lines = [f"### {title}", "", "| language | posts | " + " | ".join(DETECTORS) + " |"]
    lines.append("|---|---:|" + "---:|" * len(DETECTORS))
    for group in groups:
        cells = [f"{right[name][group]}/{total[group]}" for name in DETECTORS]
        lines.append(f"| {group} | {total[group]} | " + " | ".join(cells) + " |")
    sums = {name: sum(right[name].values()) for name in DETECTORS}
    n = len(rows)
    lines.append(
        f"| **all** | {n} | "
        + " | ".join(f"**{sums[k]}/{n} ({100 * sums[k] / n:.1f}%)**" for k in sums)
        + " |"
    )
    return "\n".join(lines), sums


def timing(rows: list[dict[str, str]], repeats: int = 20) -> float:
    texts = [r["text"] for r in rows]
    detect_language(texts[0])  # load the detectors outside the timing
    start = time.perf_counter()
    for _ in range(repeats):
        for text in texts:
            detect_language(text)
    return (time.perf_counter() - start) / (repeats * len(texts)) * 1000.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--words", type=int, nargs="*", default=[5, 3], help="also test the first N words")
    args = parser.parse_args(argv)
    if not args.corpus.is_file():
        print(f"{args.corpus}: corpus not found; pass --corpus PATH", file=sys.stderr)
        return 2
    rows = load(args.corpus)
    if not rows:
        print(f"{args.corpus}: no posts in the corpus", file=sys.stderr)
        return 2
    for words in [None, *args.words]:
        text, _ = table(rows, words)
        print(text, end="\n\n")
    print(f"detect_language: {timing(rows):.3f} ms per post (mean over {len(rows)} posts x 20)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
