"""``placematch tender``: evaluate a tender's bids, price against quality, and award its lots
(providers.tender_files, providers.tender_evaluation, providers.tender_award)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

tender_app = typer.Typer(help="Tenders: score bids price against quality, rank them per lot and award the "
                              "framework.", no_args_is_help=True)
out = Console(width=170)
err = Console(stderr=True, width=200)


@tender_app.command("example")
def example(folder: Path = typer.Argument(..., help="Folder to write the demo council's tender files into")) -> None:
    """Write the demo council's tender (tender.yaml, bids.csv, scores.csv, moderation.csv): four
    lots, 24 bidders, with an abnormally low bid, a tie and a moderated score; and its award
    options as scenario files (baseline.yaml, award-*.yaml) to compare."""
    from providers.demo.tender import write_demo_tender
    from providers.tender_files import read_tender
    from scenarios.award_options import standard_options

    path = write_demo_tender(folder)
    options = standard_options(read_tender(path).spec, path.name)
    for name, text in options.items():
        (folder / name).write_text(text, encoding="utf-8")
    out.print(f"Wrote {path} and its bids, scores and moderation beside it. Evaluate it with "
              f"`placematch tender evaluate {path}`; try its award options against forecast demand with "
              f"`placematch scenario compare {' '.join(str(folder / n) for n in options)}`.", highlight=False)


@tender_app.command("evaluate")
def evaluate_command(
    tender: Path = typer.Argument(..., help="tender.yaml: the lots, the criteria and weights, the award rule"),
    bids: Optional[Path] = typer.Option(None, help="The bids (CSV or .xlsx); default: the file tender.yaml names"),
    scores: Optional[Path] = typer.Option(None, help="The evaluators' scores (CSV or .xlsx); default: as named"),
    moderation: Optional[Path] = typer.Option(None, help="The moderated scores (CSV or .xlsx); default: as named"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Write ranking.csv (every score, in words) here"),
    award: bool = typer.Option(False, "--award", help="Also award the lots: write the framework, its lots and the "
                                                      "providers accepted on each to the database (all or nothing)"),
) -> None:
    """Score every bid price against quality, rank them per lot with ties and abnormally low bids
    flagged, and show the award the tender's rule gives; with --award, make it."""
    from providers import csvfiles
    from providers.tender_evaluation import evaluate, ranking_table
    from providers.tender_files import TenderFilesRefused, read_tender

    try:
        read = read_tender(tender, bids=bids, scores=scores, moderation=moderation)
    except TenderFilesRefused as exc:
        shown = exc.problems[:csvfiles.MAX_ERRORS_SHOWN]
        err.print(f"[bold red]Not evaluated[/]: {len(exc.problems):,} problem(s) in the tender's files",
                  highlight=False)
        for problem in shown:
            err.print(f"  {problem}", markup=False, highlight=False)
        if len(exc.problems) > len(shown):
            err.print(f"  ... and {len(exc.problems) - len(shown):,} more", highlight=False)
        raise typer.Exit(1)
    evaluation = evaluate(read)
    _print(evaluation)
    if out_dir is not None:
        from models.spreadsheet import inert_row

        columns, rows = ranking_table(evaluation)
        out_dir.mkdir(parents=True, exist_ok=True)
        # A bidder's name is whatever the bid said: never a formula when opened in a spreadsheet.
        path = csvfiles.write_table(out_dir / "ranking.csv", columns,
                                    [inert_row(row) for row in rows])
        out.print(f"Wrote {path}", highlight=False)
    problems = evaluation.award_problems()
    if not award:
        if problems:
            out.print("The award could not be made as it stands:", highlight=False)
            for problem in problems:
                out.print(f"  {problem}", markup=False, highlight=False)
        return
    _award(evaluation)


def _award(evaluation) -> None:
    from api.cli import _engine
    from models.db import transaction
    from providers.tender_award import AwardRefused, award

    engine = _engine()
    try:
        with transaction(engine) as session:
            framework = award(session, evaluation, "cli")
            framework_id, lots = framework.id, len(framework.lots)
    except AwardRefused as exc:
        err.print("[bold red]Not awarded[/]: nothing was written.", highlight=False)
        for problem in exc.problems:
            err.print(f"  {problem}", markup=False, highlight=False)
        raise typer.Exit(1)
    finally:
        engine.dispose()
    out.print(f"Awarded: framework {framework_id} '{evaluation.tender.spec.name}', {lots} lots, "
              f"{len(evaluation.awarded())} awards.", highlight=False)


def _print(evaluation) -> None:
    from models import glossary

    spec = evaluation.tender.spec
    out.print(f"{spec.name}: {len(evaluation.tender.bids)} bids for {len(spec.lots)} lots; price "
              f"{spec.price_weight:g}%, quality {spec.quality_weight:g}% "
              f"({', '.join(f'{c.name} {c.weight:g}%' for c in spec.criteria)}); price scored as "
              f"{glossary.words(spec.price_method, glossary.PRICE_METHODS).lower()}.", highlight=False)
    for lot in spec.lots:
        ranked = evaluation.lots.get(lot.number, [])
        table = Table(title=f"Lot {lot.number}: {lot.name} ({len(ranked)} bids; median weekly price "
                            f"£{evaluation.medians.get(lot.number, 0):,.0f})", title_justify="left")
        for column in ("Rank", "Bidder", "Weekly price", "Price score", "Quality score", "Total", "Awarded", "Flags"):
            table.add_column(column, justify="right" if column in ("Rank", "Weekly price", "Price score",
                                                                    "Quality score", "Total") else "left")
        for r in ranked:
            flags = [glossary.words(f, glossary.TENDER_FLAGS) + (f" with {', '.join(r.tied_with)}" if f == "tie" else "")
                     for f in r.flags]
            table.add_row(str(r.rank), f"{r.bid.bidder_name} ({r.bid.bidder_id})", f"£{r.lot_price:,.2f}",
                          f"{r.price_score:.2f}", f"{r.quality_score:.2f}", f"{r.total:.2f}",
                          "yes" if r.awarded else ("no: " + r.left_out.split(":")[0] if r.left_out else "no"),
                          "; ".join(flags))
        out.print(table)
