"""Building `report.html` from a run folder: run the analysis (or read it), draw the figures, fill the
template. The template is autoescaped: item texts and any other data appear as text, never as markup."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from steer_eval.analysis.api import Analysis, Settings, analyze
from steer_eval.analysis.dose import MIN_RHO_POINTS
from steer_eval.analysis.summary import plain_words
from steer_eval.analysis.views import main as main_view
from steer_eval.atomic import atomic_path
from steer_eval.report import figures, holds, pairs
from steer_eval.report.cards import slug, vector_cards
from steer_eval.report.cells_table import cell_rows, table_data
from steer_eval.report.cells_table import filters as table_filters
from steer_eval.report.cells_table import fmt as _fmt
from steer_eval.report.vector_figures import vector_panels

TEMPLATES = Path(__file__).parent / "templates"
MAX_TABLE_ROWS = 400  # rows of the secondary tables (dose, subgroups, groups); the table of every cell has all
FOLD_ROWS = 20  # secondary tables longer than this open folded (their row count shown)
MAX_MAP_COLUMNS = 40  # vector-strength columns past which the helps/fails map is no longer legible
PAGE_ROWS = 200  # rows of the table of every cell drawn at a time (the next page as the reader scrolls to it)
MAX_CARD_FIGURES = 40  # vectors whose card gets its own panels (the rest: the table and the other figures)


def _change(row, prefix: str = "") -> str:
    delta, low, high = row.get(f"{prefix}delta"), row.get(f"{prefix}ci_low"), row.get(f"{prefix}ci_high")
    if delta is None or pd.isna(delta):
        return ""
    return f"{100 * delta:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]"


def _share(value: float, low: float, high: float) -> str:
    return f"{100 * value:.0f}% [{100 * low:.0f}, {100 * high:.0f}]"


FOLD_CHARS = 300  # longer texts are folded (<details>) in the free-text section


def _free_text(frame: pd.DataFrame) -> list[dict]:
    """Per task and prompt: the unsteered text and each vector's texts, for the template."""
    if frame.empty:
        return []
    out = []
    for (task, item), rows in frame.groupby(["task", "item_id"], sort=False):
        entries = [
            {
                "vector": r["vector"] or "unsteered",
                "alpha": "" if not r["vector"] or r["alpha"] == 0 else _fmt(r["alpha"], 2),
                "text": r["text"],
                "fold": len(str(r["text"])) > FOLD_CHARS,
                "score": "missing" if r["score"] is None or pd.isna(r["score"]) else _fmt(r["score"], 2),
                "nll": _fmt(r["nll"], 2),
            }
            for r in rows.to_dict("records")
        ]
        prompt = str(rows["prompt"].iloc[0])
        out.append({"task": task, "item": item, "prompt": prompt, "fold": len(prompt) > FOLD_CHARS, "texts": entries})
    return out


def _provenance(manifest: dict) -> list[tuple[str, str]]:
    model = manifest.get("model", {})
    versions = manifest.get("versions", {}) or {}
    rows = [
        ("command", manifest.get("command", "")),
        ("model", f"{model.get('name')} (revision {model.get('revision') or 'default'})"),
        ("model config sha256", str(model.get("config_sha256", ""))),
        ("started / finished", f"{manifest.get('started')} / {manifest.get('finished')}"),
        ("versions", ", ".join(f"{k} {v}" for k, v in versions.items() if v)),
        ("seed / limit", f"{manifest.get('seed')} / {manifest.get('limit')}"),
    ]
    for label, info in (manifest.get("vectors") or {}).items():
        trained = info.get("trained_on")
        what = ""
        if isinstance(trained, dict):
            what = f", trained on {trained.get('task')}'s {trained.get('split')} split ({trained.get('items')} items)"
        sha = str(info.get("sha256") or info.get("content_sha256") or "")[:16]  # the run's manifest: "sha256"
        rows.append((f"vector {label}", f"{info.get('path')} (content sha256 {sha}{what})"))
    for name, digest in (manifest.get("data_files_sha256") or {}).items():
        rows.append((f"data {name}", digest[:16]))
    return rows


def _sources(manifest: dict) -> list[dict]:
    from steer_eval.tasks.registry import all_tasks

    registry = all_tasks()
    out = []
    for task in manifest.get("tasks", []):
        spec = registry.get(task.get("registry") or "")
        if spec is not None:
            out.append({"task": spec.name, "source": spec.source, "licence": spec.licence})
    return out


def _main_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """A table's rows of the main view (original option order, default condition); the others are in
    results.json."""
    if frame.empty or "option_order" not in frame:
        return frame
    return frame[main_view(frame)]


def _rankings(ranking: pd.DataFrame) -> list[dict]:
    """Per behaviour task, its ranking's rows as the template shows them."""
    if ranking.empty:
        return []
    order = list(figures.VERDICT_COLOURS)
    out = []
    for task, rows in ranking.groupby("task", sort=False):
        entries = [
            {"rank": r["rank"], "tier": r["tier"], "vector": r["vector"], "anchor": slug(str(r["vector"])),
             "alpha": "" if r["alpha"] == 0 else f"{r['alpha']:g}", "selected": bool(r["selected"]),
             "gain": f"{100 * r['gain']:+.1f} [{100 * r['gain_low']:+.1f}, {100 * r['gain_high']:+.1f}]",
             "verdict": r["verdict"], "mark": figures.VERDICT_MARKS.get(r["verdict"], ""),
             "verdict_index": order.index(r["verdict"]) + 1 if r["verdict"] in order else 0,
             "off_target": str(r.get("on_target")) == "False" and r["verdict"] in ("helps", "hurts")}
            for r in rows.to_dict("records")
        ]  # fmt: skip
        out.append({"task": task, "entries": entries})
    return out


def _cards(analysis: Analysis, mine: pd.DataFrame, words: list[str]) -> list[dict]:
    """The vector cards (cards.py), each with its verdict's mark and its own panels (vector_figures.py)."""
    order = list(figures.VERDICT_COLOURS)
    out = []
    for index, card in enumerate(vector_cards(analysis.effects, analysis.manifest, words)):
        card["mark"] = figures.VERDICT_MARKS.get(card["verdict"], "")
        card["verdict_index"] = order.index(card["verdict"]) + 1 if card["verdict"] in order else 0
        rows = mine[mine["vector"] == card["vector"]]
        target = None if card["arm"] else card["target"] or None
        card["figure"] = vector_panels(rows, target) if index < MAX_CARD_FIGURES else None
        out.append(card)
    return out


def _rho(row: pd.Series) -> str:
    """Monotonicity in words: rho over how many strengths, or why there is none."""
    points = row["strength_points"]
    if pd.notna(row["monotonicity_rho"]):
        return f"{_fmt(row['monotonicity_rho'], 2)} over {points} strengths"
    return f"not computed ({points} strengths)" if points < MIN_RHO_POINTS else "flat"


def render(analysis: Analysis) -> str:
    effects = analysis.effects
    mine = effects[(~effects["is_control"]) & main_view(effects)]
    dose = _main_rows(analysis.dose)
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    template = env.get_template("report.html.j2")
    holding = holds.section(analysis)
    table = cell_rows(effects)
    columns = len(mine.groupby(["vector", "layer", "alpha"], dropna=False)) if len(mine) else 0
    tasks = effects.loc[effects["delta"].notna() & main_view(effects), "task"].nunique()
    return template.render(
        model=analysis.manifest.get("model", {}).get("name", "?"),
        n_cells=len(mine),
        settings=analysis.settings,
        generated=datetime.now(UTC).isoformat(timespec="seconds"),
        summary=plain_words(analysis),
        colours=figures.VERDICT_COLOURS,
        marks=figures.VERDICT_MARKS,
        cards=_cards(analysis, mine, holding["words"]),
        rankings=_rankings(analysis.ranking),
        cells_data=table_data(table, PAGE_ROWS),
        n_rows=len(table),
        filters=table_filters(table),
        map_columns=columns,
        max_forest_rows=figures.MAX_ROWS,
        fold_rows=FOLD_ROWS,
        dose_tasks={"shown": min(figures.MAX_PANELS, tasks), "left": max(0, tasks - figures.MAX_PANELS)},
        slope_series=len(figures.steerability_series(analysis.item_slopes)),
        max_panels=figures.MAX_PANELS,
        figures={
            "map": figures.verdict_map(mine) if columns <= MAX_MAP_COLUMNS else None,
            "forest": {kind: figures.forest(mine, kind) for kind in ("behavior", "intelligence")},
            "dose": figures.dose_curves(effects),
            "steerability": figures.steerability(analysis.item_slopes),
            "option_order": figures.option_order(mine),
            "tradeoff": figures.tradeoff(effects),
            "layers": figures.layer_profile(analysis.layers) if len(analysis.layers) else None,
            "sample_size": figures.sample_size(analysis.sample_size),
        },
        free_text=_free_text(analysis.free_text),
        draws=int((analysis.manifest.get("decoding") or {}).get("samples") or 1),
        holds=holding,
        pairs=pairs.section(analysis),
        dose=[
            {
                "task": r["task"],
                "vector": r["vector"],
                "layer": "" if pd.isna(r["layer"]) else int(r["layer"]),
                "n_items": r["n_items"],
                "slope": _fmt(r["steerability_mean"]),
                "anti": _share(r["anti_steerable"], r["anti_steerable_ci_low"], r["anti_steerable_ci_high"]),
                "rho": _rho(r),
            }
            for _, r in dose.head(MAX_TABLE_ROWS).iterrows()
        ]
        if len(dose)
        else [],
        subgroups=[
            {**r, "alpha": _fmt(r["alpha"], 2), "change": _change(r)}
            for r in _main_rows(analysis.subgroups).head(MAX_TABLE_ROWS).to_dict("records")
        ],
        groups=[
            {**r, "alpha": _fmt(r["alpha"], 2), "change": _change(r)}
            for r in _main_rows(analysis.groups).head(MAX_TABLE_ROWS).to_dict("records")
        ],
        flips=analysis.flips.head(60).to_dict("records") if len(analysis.flips) else [],
        interactions=[
            {
                **r,
                "alpha": _fmt(r["alpha"], 2),
                "together": f"{100 * r['combined_delta']:+.1f}",
                "singles": f"{100 * r['sum_of_singles']:+.1f}",
                "p": f"{r['p_value']:.2g}",
                "change": f"{100 * r['interaction']:+.1f} [{100 * r['ci_low']:+.1f}, {100 * r['ci_high']:+.1f}]",
            }
            for r in analysis.interactions.to_dict("records")
        ]
        if len(analysis.interactions)
        else [],
        notes=analysis.notes,
        warnings=analysis.warnings,
        provenance=_provenance(analysis.manifest),
        sources=_sources(analysis.manifest),
    )


def write_report(analysis: Analysis, target: str | Path) -> Path:
    target = Path(target)
    html = render(analysis)
    with atomic_path(target) as tmp:
        Path(tmp).write_text(html, encoding="utf-8")
    return target


def build_report(run_dir: str | Path, output: str | Path | None = None, settings: Settings | None = None) -> Path:
    """Write the report (default RUN_DIR/report.html); also writes effects.csv and results.json if missing."""
    return build_report_analysed(run_dir, output, settings)[0]


def build_report_analysed(
    run_dir: str | Path, output: str | Path | None = None, settings: Settings | None = None
) -> tuple[Path, Analysis]:
    """`build_report`, and the analysis it drew (its warnings, for the console)."""
    run_dir = Path(run_dir)
    analysis = analyze(run_dir, settings)
    if not (run_dir / "effects.csv").is_file() or not (run_dir / "results.json").is_file():
        analysis.write(run_dir)
    return write_report(analysis, Path(output) if output else run_dir / "report.html"), analysis
