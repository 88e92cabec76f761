"""`posbon scan --engine dask`: the same stages on a 2-worker local Dask cluster store the same results."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from distributed import LocalCluster
from PIL import Image
from typer.testing import CliRunner

from posbon import backfill
from posbon.cli import app
from posbon.settings import Settings
from posbon.store import Store

runner = CliRunner()

BANKED = (
    "Lantern Signal Media announces: the closed reading circle meets again this Friday. "
    "Write to the organiser in private to receive the address and the rules of the circle."
)
# what differs between two scans of the same input by design: when, and in which scan
PER_SCAN = {"scan_id", "first_seen", "last_seen", "scanned_at", "created", "updated_at", "first_scan_id"}


def posbon(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exc_info and not isinstance(result.exc_info[1], SystemExit):
        raise result.exc_info[1]
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as local:
        yield str(local.scheduler_address)


def write_input(root: Path, bank: Path) -> Path:
    """1,100 posts (3 partitions), with bank copies, links, media, a duplicate id and a bad line."""
    media = root / "media"
    media.mkdir(parents=True)
    Image.open(bank / "poster.png").convert("RGB").resize((300, 300)).save(media / "repost.jpg", quality=70)
    lines = []
    for i in range(1100):
        post: dict[str, object] = {"id": str(i), "source": "chan", "author": f"user{i % 37}"}
        if i % 50 == 0:
            post["text"] = f"{BANKED} (repost {i})"
        elif i % 73 == 0:
            post["text"] = f"join us at https://t.me/+AbCdEf{i:04d} for the circle"
        elif i % 97 == 0:
            post["text"], post["media"] = "look", ["media/repost.jpg"]
        else:
            post["text"] = f"Погода в Душанбе завтра солнечная, до {i % 30} градусов. Post {i}."
        lines.append(json.dumps(post, ensure_ascii=False))
    lines.insert(10, "{not json")
    lines.append(json.dumps({"id": "5", "text": "the same id again", "source": "chan"}))
    posts = root / "posts.jsonl"
    posts.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return posts


def setup_data_dir(data_dir: Path, bank: Path) -> None:
    assert posbon("--data-dir", str(data_dir), "bank", "create", "known")[0] == 0
    code, _, err = posbon("--data-dir", str(data_dir), "bank", "add", "known", str(bank))
    assert code == 0, err


def records(path: Path) -> dict[str, dict[str, object]]:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        found[record["item_id"]] = {k: v for k, v in record.items() if k not in PER_SCAN}
    return found


def test_dask_scan_stores_the_same_results_as_a_local_scan(
    tmp_path: Path, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSBON_PSEUDONYM_KEY", "the-same-key-for-both-scans")
    bank = tmp_path / "bank"
    bank.mkdir()
    (bank / "statement.txt").write_text(BANKED, encoding="utf-8")
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)
    Image.fromarray(pixels).resize((320, 320), Image.Resampling.BICUBIC).save(bank / "poster.png")
    posts = write_input(tmp_path / "in", bank)
    local_dir, dask_dir = tmp_path / "local", tmp_path / "dask"
    setup_data_dir(local_dir, bank)
    setup_data_dir(dask_dir, bank)

    local_json = tmp_path / "local.jsonl"
    code, out, err = posbon(
        "--data-dir", str(local_dir), "scan", str(posts), "--no-ocr", "--json", str(local_json)
    )
    assert code == 1, err  # a bad line and a duplicate id were skipped
    local = records(local_json)

    dask_json = tmp_path / "dask.jsonl"
    args = (
        "scan",
        str(posts),
        "--no-ocr",
        "--engine",
        "dask",
        "--scheduler",
        cluster,
        "--json",
        str(dask_json),
    )
    code, dask_out, dask_err = posbon("--data-dir", str(dask_dir), *args)
    assert code == 1, dask_err
    assert "posts.jsonl:11" in dask_err and "duplicate post id '5'" in dask_err
    dask = records(dask_json)

    assert len(local) == 1100
    assert dask == local  # same ids, verdicts, risks, evidence, pseudonyms, languages, links
    verdicts = [r["verdict"] for r in dask.values()]
    assert verdicts.count("match") >= 22 + 11  # every bank text copy and every image repost
    assert "clear" in verdicts
    summary = [next(ln for ln in o.splitlines() if ln.startswith("Scanned")) for o in (out, dask_out)]
    assert summary[0].split(" in ")[0] == summary[1].split(" in ")[0] == "Scanned 1100 items (1100 new)"
    assert summary[0].split("): ")[1].strip() == summary[1].split("): ")[1].strip()  # same verdict counts

    # run again on the cluster: the upsert stores nothing twice
    code, again, err = posbon("--data-dir", str(dask_dir), *args[:-2])
    assert code == 1, err
    assert "Scanned 1100 items (0 new)" in again


def test_a_worker_refuses_banks_other_than_the_drivers(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert posbon("--data-dir", str(data_dir), "bank", "create", "known")[0] == 0
    settings = Settings.load(data_dir)
    store = Store.open(settings.database_url)
    try:
        fingerprint = backfill.bank_fingerprint(store, settings)
    finally:
        store.close()
    spec = backfill.WorkerSpec(settings=settings, fingerprint=fingerprint)
    assert backfill.worker_detectors(spec) is backfill.worker_detectors(spec)  # built once per process
    with pytest.raises(backfill.BackfillError, match="different banks"):
        backfill.worker_detectors(replace(spec, fingerprint="0" * 64))
    if settings.database_url.startswith("sqlite:///"):  # a worker on a machine without the data dir
        missing = replace(settings, database_url=f"sqlite:///{tmp_path / 'elsewhere' / 'posbon.db'}")
        with pytest.raises(backfill.BackfillError, match="cannot see the database"):
            backfill.worker_detectors(replace(spec, settings=missing))
        assert not (tmp_path / "elsewhere").exists()


def test_dask_without_a_scheduler_is_a_usage_error(tmp_path: Path) -> None:
    posts = tmp_path / "posts.jsonl"
    posts.write_text(json.dumps({"id": "1", "text": "hello"}) + "\n", encoding="utf-8")
    code, _, err = posbon("scan", str(posts), "--engine", "dask")
    assert code == 2
    assert "--scheduler" in err
    code, _, err = posbon("scan", str(posts), "--engine", "spark", "--scheduler", "tcp://127.0.0.1:1")
    assert code == 2 and "unknown engine 'spark'" in err
