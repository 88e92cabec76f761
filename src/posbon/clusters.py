"""Clusters of spreading, unbanked content: near-duplicate posts seen in several sources that match no bank.

A new release is re-posted across channels before any hash list carries it. Grouping the stored items
that are near-duplicates of each other, and that no bank matched, shows analysts that release early; one
command (`bank_cluster`) then banks it, so the next scan matches every copy.

How (a full recompute on every `posbon clusters` run; 100k items in well under a minute, see
docs/clusters.md for the measurement):

1. One streaming pass over items whose verdict is not `match`: normalise the text (posbon.text.normalize),
   skip texts too short to fingerprint (posbon.signals.text.MIN_LETTERS), and fold exact duplicates of the
   normalised text together (the commonest kind of re-post costs nothing further).
2. Each distinct text gets its shingle set (posbon.signals.text.shingle_hashes, the fingerprint the bank
   text matcher uses) and a MinHash, inserted into datasketch's MinHashLSH (Jaccard threshold 0.4).
3. Every LSH candidate pair is confirmed on the exact shingle sets: resemblance |A∩B|/|A∪B|, or containment
   of the smaller in the larger |A∩B|/min(|A|,|B|) when the smaller has at least MIN_CONTAINED_SHINGLES
   shingles (a short stock phrase must not chain unrelated long posts together), >= SIMILARITY (0.6).
4. Confirmed pairs are joined with union-find; a candidate pair already in one group is not confirmed
   again (within a family of re-posts most pairs are), which keeps the pass linear in practice. The groups
   of two or more items are the clusters.

Cluster ids are stable: a new component takes the id of the previous cluster it shares most items with; a
new one is named after its earliest member ("c" + 16 hex digits of that item's id). A banked cluster keeps
its banked mark across recomputes.

Privacy: a cluster records sources (channels) and counts, never authors; the author column is not read.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from datasketch import MinHash, MinHashLSH
from sqlalchemy import delete, insert, select

from posbon.domain import SignalType, Verdict
from posbon.match.banklist import NewEntry, validate_signal
from posbon.signals.text import MIN_LETTERS, shingle_hashes
from posbon.store import Store, StoreError
from posbon.store.cluster_models import ClusterMemberRow, ClusterRow
from posbon.store.db import value_digest
from posbon.store.models import BankEntryRow, ItemRow, utcnow
from posbon.text.normalize import normalize

SIMILARITY = 0.6  # resemblance or containment at or above which two texts are near-duplicates
LSH_THRESHOLD = 0.4
NUM_PERM = 64
MIN_CONTAINED_SHINGLES = 40  # containment counts only when the smaller text has this many shingles
SNIPPET_CHARS = 100
_STREAM_BATCH = 5000


class ClusterError(Exception):
    """A problem the user can act on, in one line."""


def _identity(value: int) -> int:
    return value  # shingles arrive already hashed to 32 bits (posbon.signals.text)


_TEMPLATE = MinHash(num_perm=NUM_PERM, hashfunc=_identity, scheme="affine32")


def _minhash(values: npt.NDArray[np.uint32]) -> MinHash:
    m = MinHash(
        num_perm=NUM_PERM, hashfunc=_identity, permutations=_TEMPLATE.permutations, scheme=_TEMPLATE.scheme
    )
    m.update_batch(values.tolist())
    return m


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: posbon stores UTC, so a naive value is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class RecomputeStats:
    items_read: int  # unmatched items read
    items_fingerprinted: int  # ... with enough letters to compare
    distinct_texts: int
    candidate_pairs: int
    confirmed_pairs: int  # confirmations that joined two groups (pairs already connected are not checked)
    clusters: int
    clustered_items: int
    seconds: float


@dataclass(frozen=True)
class ClusterInfo:
    cluster_id: str
    size: int
    source_count: int
    sources: dict[str, int]
    languages: dict[str, int]
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    snippet: str
    representative_item_id: str
    banked_bank: str | None
    banked_at: datetime | None

    def to_dict(self) -> dict[str, object]:
        return {
            "cluster_id": self.cluster_id,
            "size": self.size,
            "source_count": self.source_count,
            "sources": self.sources,
            "languages": self.languages,
            "first_seen_at": self.first_seen_at.isoformat() if self.first_seen_at else None,
            "last_seen_at": self.last_seen_at.isoformat() if self.last_seen_at else None,
            "snippet": self.snippet,
            "banked_bank": self.banked_bank,
            "banked_at": self.banked_at.isoformat() if self.banked_at else None,
        }


@dataclass
class _Member:
    item_id: str
    source: str
    language: str
    seen: datetime | None


def _similar(a: npt.NDArray[np.uint32], b: npt.NDArray[np.uint32]) -> bool:
    common = len(np.intersect1d(a, b, assume_unique=True))
    if not common:
        return False
    if common / (len(a) + len(b) - common) >= SIMILARITY:
        return True
    smaller = min(len(a), len(b))
    return smaller >= MIN_CONTAINED_SHINGLES and common / smaller >= SIMILARITY


def _find(parent: list[int], node: int) -> int:
    """Union-find root with path halving. Written here because confirming pairs needs "already connected?"
    answers while edges are still being added, which scipy.sparse.csgraph's batch components cannot give."""
    while parent[node] != node:
        parent[node] = parent[parent[node]]
        node = parent[node]
    return node


def _time_key(m: _Member) -> tuple[datetime, str]:
    return (m.seen or datetime.max.replace(tzinfo=UTC), m.item_id)


def recompute_clusters(store: Store) -> RecomputeStats:
    """Recompute every cluster from the stored, unmatched items and replace the cluster tables."""
    started = time.perf_counter()
    # ---- 1. stream items; fold exact duplicates of the normalised text -------------------------------
    text_index: dict[str, int] = {}  # normalised text -> node
    raw_index: dict[str, int] = {}  # text as posted -> node
    node_members: list[list[_Member]] = []
    node_sets: list[npt.NDArray[np.uint32]] = []
    lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
    minhashes: list[MinHash] = []
    read = fingerprinted = 0
    query = (
        select(
            ItemRow.item_id,
            ItemRow.source,
            ItemRow.text,
            ItemRow.language,
            ItemRow.created_at,
            ItemRow.first_seen_at,
        )
        .where(ItemRow.verdict != str(Verdict.MATCH))
        .execution_options(yield_per=_STREAM_BATCH)
    )
    with store.session() as s:
        for item_id, source, text, language, created_at, first_seen_at in s.execute(query):
            read += 1
            member = _Member(item_id, source, language or "und", _utc(created_at or first_seen_at))
            node = raw_index.get(text)  # a verbatim re-post: no need to normalise it again
            if node is not None:
                fingerprinted += 1
                node_members[node].append(member)
                continue
            normalized = normalize(text or "")
            # str.isalpha is Unicode category L, as posbon.signals.text.letter_count counts, ~5x faster
            if sum(map(str.isalpha, normalized)) < MIN_LETTERS:
                continue
            fingerprinted += 1
            node = text_index.get(normalized)
            if node is not None:
                raw_index[text] = node
                node_members[node].append(member)
                continue
            values = np.unique(shingle_hashes(normalized))
            node = len(node_sets)
            text_index[normalized] = raw_index[text] = node
            node_members.append([member])
            node_sets.append(values)
            mh = _minhash(values)
            minhashes.append(mh)
            lsh.insert(node, mh, check_duplication=False)
    text_index.clear()
    raw_index.clear()
    # ---- 2. candidates from LSH, confirmed on exact shingle sets; 3. components ----------------------
    n = len(node_sets)
    parent = list(range(n))
    multiplicity = [len(m) for m in node_members]
    # degree of a node counted in items: its own duplicates plus every item of each LSH neighbour (an LSH
    # collision is a cheap stand-in for "similar"; it picks the representative, never the membership)
    degree = [count - 1 for count in multiplicity]
    candidates = confirmed = 0
    for node, mh in enumerate(minhashes):
        for other in lsh.query(mh):
            if other <= node:
                continue
            candidates += 1
            degree[node] += multiplicity[other]
            degree[other] += multiplicity[node]
            a, b = _find(parent, node), _find(parent, other)
            if a == b:
                continue  # already connected: confirming this pair would change nothing
            if _similar(node_sets[node], node_sets[other]):
                confirmed += 1
                parent[max(a, b)] = min(a, b)
    del lsh, minhashes
    groups: dict[int, list[int]] = {}
    for node in range(n):
        groups.setdefault(_find(parent, node), []).append(node)
    components = [nodes for nodes in groups.values() if sum(multiplicity[nd] for nd in nodes) >= 2]
    # ---- 4. stable ids and persistence ---------------------------------------------------------------
    clustered = _persist(store, components, node_members, degree)
    return RecomputeStats(
        items_read=read,
        items_fingerprinted=fingerprinted,
        distinct_texts=n,
        candidate_pairs=candidates,
        confirmed_pairs=confirmed,
        clusters=len(components),
        clustered_items=clustered,
        seconds=round(time.perf_counter() - started, 3),
    )


def _persist(
    store: Store,
    components: list[list[int]],
    node_members: list[list[_Member]],
    degree: list[int],
) -> int:
    now = utcnow()
    with store.session() as s:
        previous_member = dict(s.execute(select(ClusterMemberRow.item_id, ClusterMemberRow.cluster_id)).all())
        previous_banked = {
            r.cluster_id: (r.banked_at, r.banked_bank, r.banked_entry_id)
            for r in s.scalars(select(ClusterRow).where(ClusterRow.banked_at.is_not(None)))
        }
        members_of = [
            sorted((m for node in nodes for m in node_members[node]), key=_time_key) for nodes in components
        ]
        # a new component inherits the id of the previous cluster it shares most items with
        overlaps: list[tuple[int, str, int]] = []
        for index, members in enumerate(members_of):
            counts = Counter(previous_member[m.item_id] for m in members if m.item_id in previous_member)
            overlaps.extend((count, old, index) for old, count in counts.items())
        overlaps.sort(key=lambda t: (-t[0], t[1], t[2]))
        ids: dict[int, str] = {}
        used: set[str] = set()
        for _, old, index in overlaps:
            if index not in ids and old not in used:
                ids[index] = old
                used.add(old)
        for index, members in enumerate(members_of):
            if index in ids:
                continue
            for m in members:  # named after the earliest member whose name is still free
                candidate = "c" + m.item_id[:16]
                if candidate not in used:
                    break
            else:
                candidate = "c" + members[0].item_id
            ids[index] = candidate
            used.add(candidate)

        s.execute(delete(ClusterMemberRow))
        s.execute(delete(ClusterRow))
        cluster_rows: list[dict[str, object]] = []
        member_rows: list[dict[str, object]] = []
        for index, (nodes, members) in enumerate(zip(components, members_of, strict=True)):
            cluster_id = ids[index]
            earliest = members[0]
            # representative: the text with most near-duplicates in the cluster (a medoid, counted in items),
            # earliest on ties; banking it covers the most copies
            position = {m.item_id: i for i, m in enumerate(members)}
            best_node = max(
                nodes,
                key=lambda nd: (degree[nd], -position[min(node_members[nd], key=_time_key).item_id]),
            )
            representative = min(node_members[best_node], key=_time_key)
            times = [m.seen for m in members if m.seen is not None]
            banked = previous_banked.get(cluster_id, (None, None, None))
            sources = Counter(m.source for m in members)
            cluster_rows.append(
                {
                    "cluster_id": cluster_id,
                    "size": len(members),
                    "source_count": len(sources),
                    "sources": dict(sources.most_common()),
                    "languages": dict(Counter(m.language for m in members).most_common()),
                    "first_seen_at": min(times) if times else None,
                    "last_seen_at": max(times) if times else None,
                    "earliest_item_id": earliest.item_id,
                    "representative_item_id": representative.item_id,
                    "computed_at": now,
                    "banked_at": banked[0],
                    "banked_bank": banked[1],
                    "banked_entry_id": banked[2],
                }
            )
            member_rows.extend({"item_id": m.item_id, "cluster_id": cluster_id} for m in members)
        if cluster_rows:
            s.execute(insert(ClusterRow), cluster_rows)
            s.execute(insert(ClusterMemberRow), member_rows)
    return len(member_rows)


def list_clusters(
    store: Store, *, min_sources: int = 2, min_size: int = 3, since: datetime | None = None
) -> list[ClusterInfo]:
    """Stored clusters with at least `min_size` items from `min_sources` sources, seen since `since`,
    most widely spread first."""
    since = _utc(since)
    with store.session() as s:
        found = s.execute(
            select(ClusterRow, ItemRow.text)
            .join(ItemRow, ItemRow.item_id == ClusterRow.earliest_item_id)
            .where(ClusterRow.size >= min_size, ClusterRow.source_count >= min_sources)
            .order_by(ClusterRow.source_count.desc(), ClusterRow.size.desc(), ClusterRow.cluster_id)
        ).all()
    out: list[ClusterInfo] = []
    for row, text in found:
        last = _utc(row.last_seen_at)
        if since is not None and (last is None or last < since):
            continue
        out.append(
            ClusterInfo(
                cluster_id=row.cluster_id,
                size=row.size,
                source_count=row.source_count,
                sources=dict(row.sources),
                languages=dict(row.languages),
                first_seen_at=_utc(row.first_seen_at),
                last_seen_at=last,
                snippet=_snippet(text or ""),
                representative_item_id=row.representative_item_id,
                banked_bank=row.banked_bank,
                banked_at=_utc(row.banked_at),
            )
        )
    return out


def _snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class BankedCluster:
    cluster_id: str
    bank: str
    entry_id: int
    added: bool  # False: the bank already held this text
    members: int


def bank_cluster(store: Store, cluster_id: str, bank: str) -> BankedCluster:
    """Add the cluster's representative text to BANK as a text entry and mark the cluster banked.

    Raises ClusterError for an unknown cluster, StoreError for an unknown bank.
    """
    with store.session() as s:
        found = s.execute(
            select(ClusterRow, ItemRow.text)
            .join(ItemRow, ItemRow.item_id == ClusterRow.representative_item_id)
            .where(ClusterRow.cluster_id == cluster_id)
        ).first()
    if found is None:
        raise ClusterError(f"no cluster {cluster_id!r}: `posbon clusters` lists the current ones")
    row, text = found
    bank_id = store.bank_id(bank)  # raises StoreError naming the missing bank
    try:
        value, original = validate_signal(SignalType.TEXT, text or "")
    except ValueError as exc:
        raise ClusterError(f"cluster {cluster_id}: its text cannot be banked ({exc})") from exc
    entry = NewEntry(
        signal_type=SignalType.TEXT,
        value=value,
        label=f"cluster {cluster_id}",
        metadata={"cluster_id": cluster_id, "cluster_size": row.size, "cluster_sources": row.source_count},
        original_text=original,
        origin=f"cluster:{cluster_id}",
    )
    added, _ = store.add_entries(bank, [entry])
    digest = value_digest(str(SignalType.TEXT), value)
    with store.session() as s:
        entry_id = s.scalar(
            select(BankEntryRow.id).where(
                BankEntryRow.bank_id == bank_id, BankEntryRow.value_digest == digest
            )
        )
        if entry_id is None:  # pragma: no cover - add_entries just wrote or found it
            raise StoreError(f"bank {bank!r}: the entry for cluster {cluster_id} was not stored")
        cluster = s.get(ClusterRow, cluster_id)
        if cluster is not None:
            cluster.banked_at = utcnow()
            cluster.banked_bank = bank
            cluster.banked_entry_id = entry_id
    return BankedCluster(cluster_id, bank, int(entry_id), added > 0, row.size)


__all__ = [
    "BankedCluster",
    "ClusterError",
    "ClusterInfo",
    "RecomputeStats",
    "bank_cluster",
    "list_clusters",
    "recompute_clusters",
]
