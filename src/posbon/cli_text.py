"""`posbon train` and `posbon clusters`: commands over stored text. Thin: parse, call a service, print.

The main app registers them: `from posbon.cli_text import register; register(app, state)` (after cli.py has
defined its consoles and helpers, which are imported from it when a command runs).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Protocol

import typer
from rich.table import Table

from posbon.settings import Settings


class _State(Protocol):
    def settings(self) -> Settings: ...


def register(app: typer.Typer, state: _State) -> None:
    """Add `train` and the `clusters` group (list, `clusters bank ID BANK`) to the main app."""

    @app.command("train")
    def train(
        data: Annotated[
            Path | None,
            typer.Option("--data", help='Labelled JSON Lines: {"text": ..., "label": "promotion"|"benign"}.'),
        ] = None,
        name: Annotated[str, typer.Option("--name", help="Model name; versions are kept side by side.")] = (
            "default"
        ),
        from_decisions: Annotated[
            bool, typer.Option("--from-decisions", help="Train from reviewers' decisions in the store.")
        ] = False,
        seed: Annotated[int, typer.Option("--seed", help="Seed for the held-out split.")] = 0,
    ) -> None:
        """Train a text classifier from labelled posts; print its held-out evaluation; save a new version.

        posbon ships no model: you train one on data you hold. Saved under DATA_DIR/models/NAME/vN/ with a
        model card (data digest and size, date, metrics, versions).

        Example: [bold]posbon train --data labelled.jsonl --name tg-posts[/bold]
        """
        from posbon import cli
        from posbon.assess import classifier as clf
        from posbon.domain import Problem

        settings = state.settings()
        examples: list[clf.LabelledText] = []
        skipped = 0
        if from_decisions:
            from posbon.review.training import labelled_from_decisions

            store = cli._open_store(settings)
            examples = labelled_from_decisions(store)
            store.close()
            if not examples:
                cli.out.print(
                    "No reviewers' decisions are stored yet: train from a labelled file with --data FILE.",
                    soft_wrap=True,
                )
                return
            source_name = "reviewers' decisions"
        elif data is None:
            cli.err.print("[red]error:[/red] give a labelled file with --data FILE (or use --from-decisions)")
            raise typer.Exit(cli.EXIT_USAGE)
        else:
            if not data.is_file():
                cli.err.print(f"[red]error:[/red] {data}: no such file")
                raise typer.Exit(cli.EXIT_USAGE)
            for entry in clf.read_labelled(data):
                if isinstance(entry, Problem):
                    skipped += 1
                    cli._say_problem(entry)
                else:
                    examples.append(entry)
            source_name = data.name
        try:
            clf.check_name(name)
        except clf.ClassifierError as exc:
            cli.err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(cli.EXIT_USAGE) from exc
        cli.err.print(f"Training on {len(examples)} examples from {source_name} ...")
        try:
            arrays, evaluation = clf.train(examples, seed=seed)
        except clf.ClassifierError as exc:
            cli.err.print(f"[red]error:[/red] {source_name}: {exc}")
            raise typer.Exit(cli.EXIT_USAGE) from exc
        _print_evaluation(evaluation)
        directory = clf.save_model(
            settings.data_dir,
            name,
            arrays,
            evaluation,
            examples=examples,
            data_source=source_name,
            problems=skipped,
        )
        cli.out.print(f"Model saved: {directory}")
        if skipped:
            cli.out.print(f"[yellow]{skipped} lines skipped[/yellow] (each reported above).")
        raise typer.Exit(cli.EXIT_SKIPPED if skipped else cli.EXIT_OK)

    clusters_app = typer.Typer(
        help="Near-duplicate posts spreading across sources that match no bank.",
        invoke_without_command=True,
    )
    app.add_typer(clusters_app, name="clusters")

    @clusters_app.callback()
    def clusters(
        ctx: typer.Context,
        min_sources: Annotated[int, typer.Option("--min-sources", min=1, help="Distinct sources.")] = 2,
        min_size: Annotated[int, typer.Option("--min-size", min=2, help="Items in the cluster.")] = 3,
        since: Annotated[
            datetime | None, typer.Option("--since", help="Only clusters with a post on or after (UTC).")
        ] = None,
        json_out: Annotated[bool, typer.Option("--json", help="One JSON array on standard output.")] = False,
    ) -> None:
        """Group unmatched near-duplicate posts seen in several sources: a new release before any bank has it.

        Every run recomputes the clusters from the stored items. Sources and counts are shown, never authors.

        Examples: [bold]posbon clusters --min-sources 3 --since 2026-11-01[/bold];
        [bold]posbon clusters bank c1a2b3c4d5e6f7a8b known-texts[/bold]
        """
        if ctx.invoked_subcommand is not None:
            return
        from posbon import cli
        from posbon.clusters import list_clusters, recompute_clusters
        from posbon.store import StoreError

        store = cli._open_store(state.settings())
        try:
            stats = recompute_clusters(store)
            found = list_clusters(
                store,
                min_sources=min_sources,
                min_size=min_size,
                since=since.replace(tzinfo=UTC) if since is not None and since.tzinfo is None else since,
            )
        except StoreError as exc:
            cli.err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(cli.EXIT_STORE) from exc
        finally:
            store.close()
        cli.err.print(
            f"{stats.items_read} unmatched items read, {stats.clusters} clusters of near-duplicates "
            f"({stats.clustered_items} items) in {stats.seconds:.1f} s; "
            f"{len(found)} with >= {min_size} items from >= {min_sources} sources.",
            highlight=False,
            soft_wrap=True,
        )
        if json_out:
            typer.echo(json.dumps([c.to_dict() for c in found], ensure_ascii=False, indent=2))
            return
        if not found:
            cli.out.print("No clusters to show.")
            return
        table = Table("cluster", "items", "sources", "first seen", "languages", "banked", "earliest text")
        for c in found:
            top = ", ".join(f"{s} {n}" for s, n in list(c.sources.items())[:3])
            more = " ..." if len(c.sources) > 3 else ""
            table.add_row(
                c.cluster_id,
                str(c.size),
                f"{c.source_count}: {top}{more}",
                c.first_seen_at.strftime("%Y-%m-%d %H:%M") if c.first_seen_at else "-",
                " ".join(f"{k} {n}" for k, n in c.languages.items()),
                c.banked_bank or "",
                c.snippet,
            )
        cli.out.print(table)
        cli.out.print("Bank one with: posbon clusters bank CLUSTER_ID BANK")

    @clusters_app.command("bank")
    def clusters_bank(
        cluster_id: Annotated[str, typer.Argument(help="Cluster id from `posbon clusters`.")],
        bank: Annotated[str, typer.Argument(help="Bank to add the cluster's representative text to.")],
    ) -> None:
        """Add a cluster's representative text to a bank as a text entry; later scans match its copies.

        Example: [bold]posbon clusters bank c1a2b3c4d5e6f7a8b known-texts[/bold]
        """
        from posbon import cli
        from posbon.clusters import ClusterError, bank_cluster
        from posbon.store import StoreError

        store = cli._open_store(state.settings())
        try:
            result = bank_cluster(store, cluster_id, bank)
        except (ClusterError, StoreError) as exc:
            cli.err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(cli.EXIT_USAGE) from exc
        finally:
            store.close()
        what = "added as entry" if result.added else "already there as entry"
        cli.out.print(
            f"Cluster {result.cluster_id} ({result.members} items) banked in {result.bank!r}: "
            f"{what} {result.entry_id}. Scan again to match its copies.",
            soft_wrap=True,
        )


def _print_evaluation(ev: object) -> None:
    from posbon import cli
    from posbon.assess.classifier import TARGET_PRECISION, Evaluation, format_metric

    assert isinstance(ev, Evaluation)
    cli.out.print(
        f"Held-out evaluation ({ev.test_size} examples; trained on {ev.train_size}, "
        f"{ev.calibration} calibration)"
    )
    metrics = Table("precision", "recall", "F1", "ROC AUC", "Brier", title="at p >= 0.5")
    metrics.add_row(*(format_metric(v) for v in (ev.precision, ev.recall, ev.f1, ev.roc_auc, ev.brier)))
    cli.out.print(metrics)
    reliability = Table("p from", "p to", "texts", "mean p", "promotion share", title="reliability")
    for b in ev.reliability:
        reliability.add_row(
            f"{b.low:.1f}", f"{b.high:.1f}", str(b.count), format_metric(b.mean_predicted),
            format_metric(b.fraction_promotion),
        )  # fmt: skip
    cli.out.print(reliability)
    if ev.threshold is None:
        cli.out.print(
            f"[yellow]No score reaches held-out precision {TARGET_PRECISION:.2f}: this model will give no "
            "evidence in scans.[/yellow] More or cleaner labelled data may help."
        )
    else:
        cli.out.print(
            f"Evidence threshold p >= {ev.threshold:.3f}: held-out precision "
            f"{format_metric(ev.precision_at_threshold)}, recall {format_metric(ev.recall_at_threshold)}."
        )
