"""The build report: one JSON-ready object, written as report.json, report.md and a self-contained report.html."""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwnat import __version__
from hwnat.io import atomic_write_json, atomic_write_text

if TYPE_CHECKING:
    from hwnat.pipeline.stages import BuildContext

REPORT_SCHEMA = 1


@dataclass
class BudgetCheck:
    """One budget item against the value measured (latency, on the target) or counted (MACs, params)."""

    item: str
    budget: float
    value: float
    source: str

    @property
    def passed(self) -> bool:
        return self.value <= self.budget

    @property
    def used(self) -> float:
        return self.value / self.budget

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item, "budget": self.budget, "value": self.value, "source": self.source,
                "used": round(self.used, 4), "passed": self.passed}


@dataclass
class BuildReport:
    """What `hwnat build` returns and writes: the request, the chosen model, budget checks and per-format rows."""

    request: dict[str, Any]
    chosen: dict[str, Any]
    checks: list[BudgetCheck]
    formats: list[dict[str, Any]]
    candidates: list[dict[str, Any]]
    stages: dict[str, dict[str, Any]]
    search: dict[str, Any]
    table: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": REPORT_SCHEMA, "hwnat_version": __version__, "request": self.request,
                "passed": self.passed, "chosen": self.chosen, "checks": [c.to_dict() for c in self.checks],
                "formats": self.formats, "candidates": self.candidates, "stages": self.stages,
                "search": self.search, "table": self.table, "files": self.files}


def make_report(ctx: BuildContext) -> BuildReport:
    res = ctx.results
    chosen = dict(res["select"]["chosen"])
    finetuned = res.get("finetune", {})
    chosen.update({k: finetuned[k] for k in ("model", "val_top1", "test_top1", "epochs") if k in finetuned})
    if "source" in finetuned:
        chosen["finetune_source"] = finetuned["source"]
    formats = list(res.get("benchmark", {}).get("rows", []))
    primary = next((r for r in formats if r.get("primary") and r.get("p50_ms") is not None), None)
    checks = []
    for item, limit in ctx.request.budgets.items():
        if item == "latency":
            if primary is not None:
                value, source = float(primary["p50_ms"]), f"p50 of {primary['format']} measured on {ctx.target.name}"
                timed = primary
            else:
                value, source = float(chosen["measured_p50_ms"]), f"p50 measured on {ctx.target.name}"
                timed = chosen
            if ctx.settings["timing"] == "table-speed" and timed.get("raw_p50_ms") is not None:
                slowdown = timed.get("host_slowdown")
                source += (f" at the table's speed (paired with its reference subnet; {timed['raw_p50_ms']:.3f} ms "
                           f"as timed" + ("" if slowdown is None else f", the reference taking {slowdown:.2f}× "
                                          f"its time at the table's calibration") + ")")
        else:
            value, source = float(chosen[item]), "counted"
        checks.append(BudgetCheck(item, float(limit), value, source))
    search = {k: res["search"][k] for k in ("evaluations", "hv", "archive_size")}
    search["front"] = res["search"]["front"]
    stages = {name: {"wall_s": rec.wall_s, "finished": rec.finished} for name, rec in ctx.run.stages.items()}
    return BuildReport(ctx.run.request, chosen, checks, formats, res["select"]["candidates"], stages, search,
                       {k: v for k, v in res["table"].items() if k != "validation"} |
                       {"validation": _short_validation(res["table"].get("validation"))})


def _short_validation(v: dict[str, Any] | None) -> dict[str, Any] | None:
    if not v:
        return None
    cal = v.get("calibrated", v)
    return {k: cal.get(k) for k in ("n", "within_10pct", "mape", "spearman")}


def write_report(report: BuildReport, out: Path) -> None:
    from hwnat.pipeline.plots import latency_plot, pareto_plot

    pareto = pareto_plot(report, out / "search" / "archive.jsonl", out / "pareto.png")
    latency = latency_plot(report, out / "latency.png")
    report.files = {"report_json": str(out / "report.json"), "report_md": str(out / "report.md"),
                    "report_html": str(out / "report.html"), "pareto_png": str(pareto), "latency_png": str(latency)}
    atomic_write_json(out / "report.json", report.to_dict(), indent=2)
    atomic_write_text(out / "report.md", markdown(report))
    atomic_write_text(out / "report.html", to_html(report, [pareto, latency]))


# -- text renderings ----------------------------------------------------------------------------------------
def budget_lines(report: BuildReport) -> list[str]:
    return [f"{'PASS' if c.passed else 'FAIL'}  {c.item:8} {_fmt(c.item, c.value):>12} ≤ {_fmt(c.item, c.budget):<12}"
            f" ({100 * c.used:.0f}% of budget; {c.source})" for c in report.checks]


def format_rows(report: BuildReport) -> list[list[str]]:
    rows = []
    for r in report.formats:
        rows.append([r.get("status", ""), r["format"], r.get("target", ""), _opt(r.get("size_mb"), "{:.2f}"),
                     _opt(r.get("top1"), "{:.2%}"), _opt(r.get("p50_ms"), "{:.3f}"), _opt(r.get("p90_ms"), "{:.3f}"),
                     _opt(r.get("predicted_ms"), "{:.3f}"), r.get("file", "")])
    return rows


FORMAT_HEADER = ["", "format", "measured on", "MB", "test top-1", "p50 ms", "p90 ms", "table ms", "file"]


def summary_lines(report: BuildReport) -> list[str]:
    c = report.chosen
    lines = [f"chosen subnet {c['arch_id']}: {_fmt('macs', c['macs'])} MACs, {_fmt('params', c['params'])} params, "
             f"latency table {c['latency']:.3f} ms, measured p50 {c['measured_p50_ms']:.3f} ms"]
    if "test_top1" in c:
        n = c.get("epochs")
        lines.append(f"fine-tuned (step 2: {n} epoch{'' if n == 1 else 's'} on train+val, step 1's best count): "
                     f"validation top-1 {c['val_top1']:.2%}, test top-1 {c['test_top1']:.2%}"
                     + (" (copied from the cache: an earlier build fine-tuned this subnet)"
                        if c.get("finetune_source") == "cache" else ""))
    else:
        lines.append(f"search validation top-1 {1 - c['error']:.2%} (super-network weights)")
    return lines


def markdown(report: BuildReport) -> str:
    req = report.request
    out = [f"# hwnat build: {req['target']}, budget {_budgets(req['budgets'])}", "",
           f"Overall: **{'PASS' if report.passed else 'FAIL'}** (hwnat {__version__}, preset {req['preset']}, "
           f"data {req['data']}, seed {req['seed']})", "", *[f"- {s}" for s in summary_lines(report)], "",
           "## Budget, measured on the target", "", "| result | item | value | budget | used | measured by |",
           "|---|---|---|---|---|---|"]
    out += [f"| {'PASS' if c.passed else 'FAIL'} | {c.item} | {_fmt(c.item, c.value)} | {_fmt(c.item, c.budget)} | "
            f"{100 * c.used:.0f}% | {c.source} |" for c in report.checks]
    if report.formats:
        out += ["", "## Formats", "", "| " + " | ".join(FORMAT_HEADER) + " |", "|" + "---|" * len(FORMAT_HEADER)]
        out += ["| " + " | ".join(row) + " |" for row in format_rows(report)]
    out += ["", "## Candidates measured on the target", "",
            "| arch | search val error | MACs | params | table ms | measured p50 ms |", "|---|---|---|---|---|---|"]
    out += [f"| {r['arch_id']} | {100 * r['error']:.2f}% | {_fmt('macs', r['macs'])} | {_fmt('params', r['params'])} "
            f"| {r['latency']:.3f} | {r['measured_p50_ms']:.3f} |" for r in report.candidates]
    out += ["", "## Stages", "", "| stage | wall s | finished |", "|---|---|---|"]
    out += [f"| {name} | {s['wall_s']:.1f} | {s['finished']} |" for name, s in report.stages.items()]
    out += ["", f"Search: {report.search['evaluations']} subnets evaluated, hypervolume {report.search['hv']:.4f}, "
            f"{len(report.search['front'])} on the front. Latency table: {report.table.get('path')} "
            f"({report.table.get('source')}).", ""]
    return "\n".join(out)


def to_html(report: BuildReport, images: list[Path]) -> str:
    """report.md's content as HTML with the plots embedded, so the file stands alone."""
    body = []
    for line in markdown(report).splitlines():
        if line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("|---"):
            continue
        elif line.startswith("| "):
            cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
            body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        elif line.startswith("- "):
            body.append(f"<li>{html.escape(line[2:])}</li>")
        elif line.strip():
            body.append(f"<p>{html.escape(line).replace('**', '')}</p>")
    text = _wrap_tables("\n".join(body))
    pictures = "".join(f'<figure><img alt="{p.stem}" src="data:image/png;base64,'
                       f'{base64.b64encode(p.read_bytes()).decode()}"><figcaption>{p.name}</figcaption></figure>'
                       for p in images if p.exists())
    style = ("body{font-family:sans-serif;max-width:70em;margin:2em auto}table{border-collapse:collapse}"
             "td{border:1px solid #ccc;padding:2px 6px}img{max-width:100%}")
    data = html.escape(json.dumps(report.to_dict()))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>hwnat build report</title><style>{style}"
            f"</style></head><body>{text}{pictures}<script type='application/json' id='report'>{data}</script>"
            f"</body></html>\n")


def _wrap_tables(text: str) -> str:
    out, inside = [], False
    for line in text.splitlines():
        row = line.startswith("<tr>")
        if row and not inside:
            out.append("<table>")
        if not row and inside:
            out.append("</table>")
        inside = row
        out.append(line)
    if inside:
        out.append("</table>")
    return "\n".join(out)


def _fmt(item: str, value: float) -> str:
    from hwnat.search.objectives import format_quantity

    return format_quantity(item, value)


def _budgets(budgets: dict[str, float]) -> str:
    return ", ".join(f"{k} ≤ {_fmt(k, v)}" for k, v in budgets.items())


def _opt(value: float | None, spec: str) -> str:
    return "-" if value is None else spec.format(value)
