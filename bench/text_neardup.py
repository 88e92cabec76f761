"""Near-duplicate text matching under evasion: posbon's TextIndex vs threatexchange's raw_text and text TLSH.

    python bench/text_neardup.py [--corpus bench/data/neardup/base.jsonl] [--bank-size 100000]
                                 [--threshold 0.6] [--no-baselines] [--skeleton-study] [--seed 7]

Part 1 (small bank): the corpus's base texts (25 a language: tg, ru, uz in Latin and Cyrillic, fa, ps, ar,
en; written for this benchmark, benign) are banked; every evasion generator below is applied to every base
text (positives: must match their own base) and to every negative (unrelated texts on the same topics:
must match nothing). Recall and precision per evasion type, for posbon and, on the same queries,
threatexchange's RawTextSignal (Levenshtein linear scan, 5% difference) and TextTLSHSignal (distance 30).

Part 2 (large bank): --bank-size random texts (200-600 chars of words drawn from each language's vocabulary
in the corpus) are banked with the base texts planted among them; reports build time, RSS growth of the
process (the index), posts/s of normalise + fingerprint + query on one core, and recall/precision of the
same evasion queries. posts/s is CPU time of the (single) benchmark thread; `taskset -c 0` pins it.
Pairs are counted: a true positive is (query, its base) reported; a false positive any other reported pair.

--skeleton-study: recall, precision and score margins with finer and coarser skeletons, and the score of
each transliteration schema of the `iuliia` library on the Russian texts.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

try:
    import iuliia  # transliteration schemas for Russian (dev extra)
except ImportError:  # pragma: no cover - the benchmark then skips that evasion
    iuliia = None

from posbon.match.text_index import TextIndex
from posbon.signals.text import unique_sorted
from posbon.text.normalize import normalize
from posbon.text.translit import (
    RUSSIAN_LATIN_SCHEMES,
    russian_to_latin,
    uzbek_cyrillic_to_latin,
    uzbek_latin_to_cyrillic,
)

DEFAULT_CORPUS = Path(__file__).parent / "data" / "neardup" / "base.jsonl"


@dataclass(frozen=True)
class Text:
    id: str
    lang: str
    script: str
    kind: str  # base | negative
    topic: str
    text: str


def load(path: Path) -> list[Text]:
    rows: list[Text] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            rows.append(Text(r["id"], r["lang"], r["script"], r["kind"], r["topic"], r["text"]))
        except (ValueError, KeyError, TypeError) as exc:
            print(f"{path}:{number}: skipped, not a corpus line ({exc})", file=sys.stderr)
    return rows


# --- evasions: one generator each; None when the evasion does not apply to the text ------------------
Context = dict[str, list[Text]]  # language -> negatives (fillers for partial quotes)
Evasion = Callable[[Text, random.Random, Context], str | list[str] | None]  # list: several variants

_EMOJI = ["🔥", "✅", "👉", "‼️", "⭐", "💥", "🌙", "★", "☛", "➤", "♦", "✨", "🙏", "📢", "⚡", "❗"]
_ZW = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
_CYR_TO_LAT = dict(zip("аеорсхуіАЕОРСХУКМТВН", "aeopcxyiAEOPCXYKMTBH", strict=True))
_LAT_TO_CYR = {v: k for k, v in _CYR_TO_LAT.items()}
_ARABIC_VARIANTS = {"ی": "ي", "ک": "ك", "ه": "ة", "ا": "أ"}
_LEGACY_TG = dict(zip("ғӣқӯҳҷҒӢҚӮҲҶ", "ѓїќўњљЃЇЌЎЊЉ", strict=True))
_SIGNATURES = {
    "tg": "Ба канали мо обуна шавед",
    "ru": "Подписывайтесь на наш канал",
    "uz": "Kanalimizga obuna bo'ling",
    "fa": "در کانال ما عضو شوید",
    "ps": "زموږ چینل سره یوځای شئ",
    "ar": "اشتركوا في قناتنا",
    "en": "Subscribe to our channel",
}
_WORD = re.compile(r"\S+")


def ev_emoji(t: Text, rng: random.Random, ctx: Context) -> str:
    words = t.text.split()
    out = [w + (" " + rng.choice(_EMOJI) if rng.random() < 0.35 else "") for w in words]
    return rng.choice(_EMOJI) * 2 + " " + " ".join(out) + " " + rng.choice(_EMOJI) * 3


def ev_zero_width(t: Text, rng: random.Random, ctx: Context) -> str:
    return "".join(ch + (rng.choice(_ZW) if ch.isalpha() and rng.random() < 0.3 else "") for ch in t.text)


def ev_lookalikes(t: Text, rng: random.Random, ctx: Context) -> str:
    if t.script == "Arab":  # Arabic-script look-alikes: letter variants, tatweel, harakat
        out = []
        for ch in t.text:
            ch = _ARABIC_VARIANTS.get(ch, ch) if ch != "ه" and rng.random() < 0.6 else ch
            out.append(ch + ("ـ" if rng.random() < 0.05 else "") + ("\u064e" if rng.random() < 0.05 else ""))
        return "".join(out)
    table = _CYR_TO_LAT if t.script == "Cyrl" else _LAT_TO_CYR
    return "".join(table[ch] if ch in table and rng.random() < 0.5 else ch for ch in t.text)


def ev_legacy_tajik(t: Text, rng: random.Random, ctx: Context) -> str | None:
    if t.lang != "tg":
        return None
    return "".join(_LEGACY_TG.get(ch, ch) for ch in t.text)


def ev_spacing_punct(t: Text, rng: random.Random, ctx: Context) -> str:
    text = re.sub(r"([.!?])\s+", lambda m: m.group(1) + rng.choice(["\n\n", "\n", "  ", " "]), t.text)
    text = re.sub(r",\s*", lambda m: rng.choice([" , ", ",", " — ", " ", ";  "]), text)
    text = re.sub(r"[.!?]", lambda m: rng.choice(["...", "!!", ".", " !", ""]), text)
    text = re.sub(r" ", lambda m: rng.choice([" ", " ", "  ", "\t", " \n "]), text)
    return text


def ev_signature_hashtags(t: Text, rng: random.Random, ctx: Context) -> str:
    tags = " ".join(f"#{w}" for w in rng.sample(_WORD.findall(re.sub(r"[^\w\s]", "", t.text)), 3))
    channel = f"@{t.lang}_{rng.choice(['news', 'info', 'xabar', 'akhbor'])}{rng.randint(1, 99)}"
    return (
        f"{channel}\n\n{t.text}\n\n{tags} #{t.topic}\n{_SIGNATURES[t.lang]} 👉 {channel} t.me/{channel[1:]}"
    )


def ev_partial_quote(t: Text, rng: random.Random, ctx: Context) -> str:
    fillers = [n for n in ctx[t.lang] if n.id != t.id and n.topic != t.topic]
    before, after = rng.sample(fillers, 2)
    return f"{before.text} {rng.choice(['Someone sent:', '»', '—', '>>'])} «{t.text}» {after.text}"


def ev_uz_script(t: Text, rng: random.Random, ctx: Context) -> str | None:
    if t.lang != "uz":
        return None
    if t.script == "Cyrl":
        return uzbek_cyrillic_to_latin(t.text, apostrophe=rng.choice(["'", "ʻ", "‘", "`"]))
    return uzbek_latin_to_cyrillic(t.text)


_SCHEMES = sorted(RUSSIAN_LATIN_SCHEMES)


def ev_ru_latin(t: Text, rng: random.Random, ctx: Context) -> str | None:
    if t.lang != "ru":
        return None
    scheme = _SCHEMES[int(t.id[-2:]) % len(_SCHEMES)]  # each scheme on a quarter of the texts
    return russian_to_latin(t.text, scheme, rng)


def ev_ru_latin_iuliia(t: Text, rng: random.Random, ctx: Context) -> list[str] | None:
    """Russian in Latin letters by every transliteration schema of the `iuliia` library (ICAO, GOST,
    ISO 9, BGN/PCGN, ALA-LC, MVD, Telegram, Wikipedia, Yandex, ...), written by others than posbon's own
    generator (after a first run on them the skeleton gained two digraphs: shh and tch)."""
    if t.lang != "ru" or iuliia is None:
        return None
    names = sorted(
        n for n in dir(iuliia) if n.isupper() and n != "UZ" and hasattr(getattr(iuliia, n), "translate")
    )
    return [getattr(iuliia, n).translate(t.text) for n in names]


def ev_combined(t: Text, rng: random.Random, ctx: Context) -> str:
    """Script switch (uz) or Latin letters (ru) first, then look-alikes, zero-width, emoji, signature."""
    base = ev_uz_script(t, rng, ctx) or ev_ru_latin(t, rng, ctx) or t.text
    script = "Latn" if t.lang == "ru" else ("Latn" if t.script == "Cyrl" and t.lang == "uz" else t.script)
    if t.lang == "uz" and t.script == "Latn":
        script = "Cyrl"
    step = Text(t.id, t.lang, script, t.kind, t.topic, base)
    for ev in (ev_lookalikes, ev_zero_width, ev_emoji, ev_signature_hashtags):
        step = Text(t.id, t.lang, script, t.kind, t.topic, ev(step, rng, ctx) or step.text)
    return step.text


EVASIONS: dict[str, Evasion] = {
    "none (exact copy)": lambda t, rng, ctx: t.text,
    "emoji & symbols": ev_emoji,
    "zero-width chars": ev_zero_width,
    "look-alike letters": ev_lookalikes,
    "legacy Tajik letters": ev_legacy_tajik,
    "spacing, breaks, punctuation": ev_spacing_punct,
    "channel signature & hashtags": ev_signature_hashtags,
    "quoted inside a longer post": ev_partial_quote,
    "uz Latin <-> Cyrillic": ev_uz_script,
    "ru in Latin letters": ev_ru_latin,
    "ru in Latin, iuliia's 27 schemes": ev_ru_latin_iuliia,
    "all of the above at once": ev_combined,
}


@dataclass(frozen=True)
class Query:
    evasion: str
    expected: str | None  # base id, or None for a negative
    text: str


def make_queries(rows: list[Text], seed: int) -> list[Query]:
    ctx: Context = defaultdict(list)
    for r in rows:
        if r.kind == "negative":
            ctx[r.lang].append(r)
    queries = []
    for name, ev in EVASIONS.items():
        rng = random.Random(f"{seed}-{name}")
        for r in rows:
            variants = ev(r, rng, ctx)
            for text in [variants] if isinstance(variants, str) else variants or []:
                queries.append(Query(name, r.id if r.kind == "base" else None, text))
    return queries


# --- matchers -------------------------------------------------------------------------------------------
Searcher = Callable[[str], list[str]]


def posbon_searcher(bases: list[Text], threshold: float) -> Searcher:
    index = TextIndex()
    for i, b in enumerate(bases):
        index.add(i, normalize(b.text))
    return lambda text: [bases[h.key].id for h in index.query(normalize(text), threshold)]


RAW_TEXT_ERRORS = Counter[str]()


def raw_text_searcher(bases: list[Text]) -> Searcher:
    """threatexchange's raw_text index (LevenshteinLinearSearch) compares pair by pair with
    RawTextSignal.matches_str; its Levenshtein (weighted_levenshtein) raises UnicodeEncodeError on any
    non-ASCII pair, which aborts the whole index query. Here each pair is compared the same way and a
    pair that raises counts as no match (and is counted in RAW_TEXT_ERRORS)."""
    from threatexchange.signal_type.raw_text import RawTextSignal

    def search(text: str) -> list[str]:
        found = []
        for b in bases:
            try:
                if RawTextSignal.matches_str(b.text, text).match:
                    found.append(b.id)
            except UnicodeEncodeError:
                RAW_TEXT_ERRORS["pairs"] += 1
        return found

    return search


def tlsh_searcher(bases: list[Text]) -> Searcher | None:
    try:
        from threatexchange.extensions.tlsh.text_tlsh import TextTLSHSignal
    except ImportError as exc:
        print(f"text_tlsh unavailable ({exc}); install py-tlsh", file=sys.stderr)
        return None
    hashes = [(TextTLSHSignal.hash_from_str(b.text), b.id) for b in bases]

    def search(text: str) -> list[str]:
        h = TextTLSHSignal.hash_from_str(text)
        if not h:
            return []
        return [bid for bh, bid in hashes if bh and TextTLSHSignal.compare_hash(bh, h).match]

    return search


@dataclass
class Score:
    positives: int = 0
    negatives: int = 0
    tp: int = 0
    fp: int = 0

    @property
    def recall(self) -> float:
        return self.tp / self.positives if self.positives else 0.0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0


def evaluate(search: Searcher, queries: list[Query]) -> dict[str, Score]:
    scores: dict[str, Score] = defaultdict(Score)
    for q in queries:
        found = set(search(q.text))
        for key in (q.evasion, "ALL"):
            s = scores[key]
            if q.expected is None:
                s.negatives += 1
            else:
                s.positives += 1
                s.tp += q.expected in found
            s.fp += len(found - {q.expected})
    return scores


def table(results: dict[str, dict[str, Score]]) -> str:
    names = list(results)
    head = "| evasion | pos / neg | " + " | ".join(f"{n} recall | {n} precision" for n in names) + " |"
    lines = [head, "|---|---:|" + "---:|---:|" * len(names)]
    first = results[names[0]]
    for ev in [*EVASIONS, "ALL"]:
        if ev not in first:
            continue
        cells = []
        for n in names:
            s = results[n][ev]
            precision = f"{100 * s.precision:.1f}%" if s.tp + s.fp else "none reported"
            cells.append(f"{100 * s.recall:.1f}% | {precision}")
        label = f"**{ev}**" if ev == "ALL" else ev
        lines.append(
            f"| {label} | {first[ev].positives} / {first[ev].negatives} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


# --- large bank ---------------------------------------------------------------------------------------
def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def vocabularies(rows: list[Text]) -> dict[str, list[str]]:
    vocab: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        key = f"{r.lang}-{r.script}"
        vocab[key].update(w for w in re.findall(r"[^\W\d_]+(?:['ʻ‘’][^\W\d_]+)*", r.text) if len(w) > 1)
    return {k: sorted(v) for k, v in vocab.items()}


def random_texts(vocab: dict[str, list[str]], n: int, seed: int) -> Iterator[str]:
    rng = random.Random(seed)
    keys = sorted(vocab)
    for _ in range(n):
        words = vocab[keys[rng.randrange(len(keys))]]
        target = rng.randint(200, 600)
        out: list[str] = []
        size = 0
        while size < target:
            w = words[rng.randrange(len(words))]
            out.append(w)
            size += len(w) + 1
        yield " ".join(out)


def large_bank(rows: list[Text], queries: list[Query], size: int, threshold: float, seed: int) -> str:
    bases = [r for r in rows if r.kind == "base"]
    vocab = vocabularies(rows)
    gc.collect()
    before = rss_mb()
    index = TextIndex()
    start = time.process_time()
    for key, text in enumerate(random_texts(vocab, size, seed)):
        index.add(key, normalize(text))
    for i, b in enumerate(bases):
        index.add(size + i, normalize(b.text))
    index.query(normalize(bases[0].text))  # first query merges the pending postings
    build = time.process_time() - start
    gc.collect()
    memory = rss_mb() - before
    ids = {size + i: b.id for i, b in enumerate(bases)}

    def search(text: str) -> list[str]:
        return [ids.get(h.key, f"random-{h.key}") for h in index.query(normalize(text), threshold)]

    start = time.process_time()
    scores = evaluate(search, queries)
    elapsed = time.process_time() - start
    unrelated = list(random_texts(vocab, 5000, seed + 1))
    start = time.process_time()
    false_random = sum(len(search(t)) for t in unrelated)
    elapsed_random = time.process_time() - start
    lines = [
        f"bank: {size:,} random texts + {len(bases)} planted base texts ({len(index):,} indexed)",
        f"build (generate + normalise + add + merge), CPU time: {build:.1f} s "
        f"({len(index) / build:,.0f} texts/s)",
        f"index memory (RSS growth): {memory:,.0f} MB",
        "posts/s below are CPU time of this one thread (normalise + fingerprint + query)",
        f"evasion queries: {len(queries)} in {elapsed:.2f} s = {len(queries) / elapsed:,.0f} posts/s",
        f"unrelated random posts: 5000 in {elapsed_random:.2f} s = {5000 / elapsed_random:,.0f} posts/s, "
        f"{false_random} reported pairs",
        "",
        table({"posbon": scores}),
    ]
    return "\n".join(lines)


# --- skeleton coarseness study ---------------------------------------------------------------------
def _variant(name: str) -> Callable[[str], str]:
    """skeleton_letters as it is ("vowels one mark"), or a finer / coarser variant of it."""
    import posbon.text.translit as tr

    if name == "vowels one mark":
        return tr.skeleton_letters
    if name == "no skeleton (letters only)":
        return lambda normalized: tr._NOT_LETTER_OR_DIGIT.sub("", normalized)
    vowel_to = {"vowels kept": None, "vowels dropped": ""}[name]
    table = dict(tr._LATIN_TO_SKELETON)
    for v in tr._VOWELS:
        table[ord(v)] = v if vowel_to is None else vowel_to

    def letters(normalized: str) -> str:
        text = normalized.translate(tr._CYR_TO_SKELETON)
        for digraph, symbol in tr._LATIN_DIGRAPHS:
            text = text.replace(digraph, symbol)
        text = tr._GLIDE_J.sub("y", text)
        return tr._NOT_LETTER_OR_DIGIT.sub("", text.translate(table))

    return letters


def scheme_scores(rows: list[Text]) -> str:
    """Lowest and mean score of each iuliia schema's transliteration of the Russian base texts."""
    if iuliia is None:
        return "iuliia is not installed"
    bases = [r for r in rows if r.kind == "base" and r.lang == "ru"]
    index = TextIndex()
    for i, b in enumerate(bases):
        index.add(i, normalize(b.text))
    lines = ["| iuliia schema | lowest score | mean score | example |", "|---|---:|---:|---|"]
    for name in sorted(n for n in dir(iuliia) if n.isupper() and n != "UZ"):
        schema = getattr(iuliia, name)
        if not hasattr(schema, "translate"):
            continue
        scores = []
        for i, b in enumerate(bases):
            hits = {h.key: h.score for h in index.query(normalize(schema.translate(b.text)))}
            scores.append(hits.get(i, 0.0))
        example = schema.translate(bases[0].text)[:40]
        lines.append(f"| {name} | {min(scores):.2f} | {sum(scores) / len(scores):.2f} | {example} |")
    return "\n".join(lines)


def _searcher(index: TextIndex, bases: list[Text], threshold: float) -> Searcher:
    return lambda text: [bases[h.key].id for h in index.query(normalize(text), threshold)]


def skeleton_study(rows: list[Text], queries: list[Query], threshold: float) -> str:
    import posbon.signals.text as st

    bases = [r for r in rows if r.kind == "base"]
    original = st.skeleton_letters
    lines = [
        "| skeleton | recall | precision | uz script recall | ru Latin recall | lowest true score "
        "| highest score of an unrelated pair | 99.9th percentile of unrelated pairs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    try:
        for name in ("no skeleton (letters only)", "vowels kept", "vowels one mark", "vowels dropped"):
            st.skeleton_letters = _variant(name)  # type: ignore[assignment]
            index = TextIndex()
            for i, b in enumerate(bases):
                index.add(i, normalize(b.text))
            lowest, unrelated = 1.0, list[float]()
            base_sets = [unique_sorted(st.shingle_hashes(normalize(b.text))) for b in bases]
            for q in queries:
                post = unique_sorted(st.shingle_hashes(normalize(q.text)))
                for b, banked in zip(bases, base_sets, strict=True):
                    common = len(np.intersect1d(post, banked, assume_unique=True))
                    score = max(common / len(banked), common / (len(post) + len(banked) - common))
                    if b.id == q.expected:
                        lowest = min(lowest, score)
                    else:
                        unrelated.append(score)
            highest = max(unrelated)
            p999 = float(np.quantile(unrelated, 0.999))
            scores = evaluate(_searcher(index, bases, threshold), queries)
            a, uz, ru = scores["ALL"], scores["uz Latin <-> Cyrillic"], scores["ru in Latin letters"]
            lines.append(
                f"| {name} | {100 * a.recall:.1f}% | {100 * a.precision:.1f}% | {100 * uz.recall:.0f}% | "
                f"{100 * ru.recall:.0f}% | {lowest:.2f} | {highest:.2f} | {p999:.2f} |"
            )
    finally:
        st.skeleton_letters = original
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument(
        "--bank-size", type=int, default=100_000, help="random texts in the large bank (0: skip)"
    )
    parser.add_argument(
        "--threshold", type=float, default=0.6, help="posbon's score threshold (Matcher default)"
    )
    parser.add_argument("--no-baselines", action="store_true", help="skip threatexchange raw_text and TLSH")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skeleton-study", action="store_true", help="compare finer and coarser skeletons")
    args = parser.parse_args(argv)
    if not args.corpus.is_file():
        print(f"{args.corpus}: corpus not found; pass --corpus PATH", file=sys.stderr)
        return 2
    rows = load(args.corpus)
    bases = [r for r in rows if r.kind == "base"]
    queries = make_queries(rows, args.seed)
    counts = Counter(r.lang for r in bases)
    print(
        f"corpus: {len(bases)} base texts ({dict(counts)}), {len(rows) - len(bases)} negatives, "
        f"{len(queries)} queries"
    )
    results: dict[str, dict[str, Score]] = {}
    start = time.perf_counter()
    results["posbon"] = evaluate(posbon_searcher(bases, args.threshold), queries)
    print(f"posbon: {time.perf_counter() - start:.1f} s")
    if not args.no_baselines:
        start = time.perf_counter()
        results["raw_text"] = evaluate(raw_text_searcher(bases), queries)
        print(
            f"threatexchange raw_text: {time.perf_counter() - start:.1f} s; "
            f"{RAW_TEXT_ERRORS['pairs']:,} pairs raised UnicodeEncodeError (non-ASCII), counted as no match"
        )
        tlsh = tlsh_searcher(bases)
        if tlsh is not None:
            start = time.perf_counter()
            results["text_tlsh"] = evaluate(tlsh, queries)
            print(f"threatexchange text_tlsh: {time.perf_counter() - start:.1f} s")
    print()
    print(f"## Small bank: {len(bases)} base texts, threshold {args.threshold}")
    print()
    print(table(results))
    if args.skeleton_study:
        print()
        print("## Russian in Latin letters: score of each iuliia schema (25 ru base texts)")
        print()
        print(scheme_scores(rows))
        print()
        print("## Skeleton coarseness (small bank). Unrelated pairs: every query against every base text")
        print("## but its own, exact max(resemblance, containment) on 5-gram shingles, no candidate filter.")
        print()
        print(skeleton_study(rows, queries, args.threshold))
    if args.bank_size:
        print()
        print(f"## Large bank: {args.bank_size:,} random texts")
        print()
        print(large_bank(rows, queries, args.bank_size, args.threshold, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
