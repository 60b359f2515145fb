"""The markdown table and PNG charts, rebuilt from a results JSON: `python -m benchmarks.report FILE`."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

# (scenario, metric, heading, higher is better, hybrid's target as (contender, ratio) or an absolute bound)
COLUMNS: list[tuple[str, str, str, bool]] = [
    ("S1", "cpu_us_per_event", "S1 CPU µs/event", False),
    ("S2", "capacity", "S2 streams @50 tok/s", True),
    ("S3", "ttft_p99_ms", "S3 storm TTFT p99 ms", False),
    ("S4", "kb_per_stream", "S4 KB/idle stream", False),
    ("S5", "itl_p99_ms", "S5 gap p99 ms", False),
    ("S5", "callback_p99_ms", "S5 callback p99 ms", False),
    ("S6", "callback_per_s", "S6 callbacks/s", True),
    ("S8", "release_all_ms", "S8 release ms", False),
]
EXTRA: list[tuple[str, str, str]] = [
    ("S1", "events_per_s", "S1 events/s"),
    ("S3", "ttft_p50_ms", "S3 TTFT p50 ms"),
    ("S6", "page_per_s", "S6 pages/s"),
    ("S6", "asset_per_s", "S6 assets/s"),
    ("S8", "generators_left", "S8 generators left"),
    ("S8", "fds_left", "S8 fds left"),
    ("S8", "rss_growth_kb", "S8 RSS growth KB"),
]
TARGETS: list[tuple[str, str, str, str, float]] = [
    # scenario, metric, kind, contender or "", bound: hybrid <= bound*contender (lower better) etc.
    ("S1", "cpu_us_per_event", "ratio<=", "raw", 1.25),
    ("S2", "capacity", "abs>=", "", 2500),
    ("S2", "capacity", "ratio>=", "gthread", 10),
    ("S2", "capacity", "ratio>=", "gevent", 1.5),
    ("S2", "capacity", "ratio>=", "dash-fastapi", 1.5),
    ("S4", "kb_per_stream", "abs<=", "", 15),
    ("S5", "itl_p99_ms", "abs<=", "", 25),
    ("S6", "callback_per_s", "ratio>=", "gthread", 0.9),
]


def values(doc: dict[str, Any], scenario: str, name: str, metric: str) -> list[float]:
    runs = doc["runs"].get(scenario, {}).get(name, [])
    found = []
    for run in runs:
        value = run.get(metric)
        if value is None and metric in run.get("at_capacity", {}):
            value = run["at_capacity"][metric]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            found.append(float(value))
    return found


def paired_ratio(doc: dict[str, Any], scenario: str, metric: str, a: str, b: str) -> list[float]:
    """a/b per round, for the rounds where both were measured (rounds interleave the contenders)."""
    by_round = {}
    for run in doc["runs"].get(scenario, {}).get(b, []):
        if isinstance(run.get(metric), (int, float)):
            by_round[run["round"]] = run[metric]
    ratios = []
    for run in doc["runs"].get(scenario, {}).get(a, []):
        other = by_round.get(run["round"])
        if isinstance(run.get(metric), (int, float)) and other:
            ratios.append(run[metric] / other)
    return ratios


def cell(found: list[float]) -> str:
    if not found:
        return "–"
    median = statistics.median(found)
    text = _num(median)
    if len(found) > 1:
        text += f" ({_num(min(found))}–{_num(max(found))})"
    return text


def _num(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(doc: dict[str, Any]) -> str:
    names = list(doc["contenders"])
    columns = [(s, m, h) for s, m, h, _ in COLUMNS] + EXTRA
    columns = [c for c in columns if any(values(doc, c[0], n, c[1]) for n in names)]
    lines = [
        "| contender | " + " | ".join(h for _, _, h in columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for name in names:
        row = [cell(values(doc, s, name, m)) for s, m, _ in columns]
        if any(c != "–" for c in row):
            lines.append(f"| {doc['contenders'][name]['label']} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def ratio_table(doc: dict[str, Any]) -> str:
    """hybrid against each contender, per scenario: median of the per-round ratios (and their range)."""
    lines = [
        "| hybrid ÷ contender | " + " | ".join(h for _, _, h, _ in COLUMNS) + " |",
        "|---|" + "---:|" * len(COLUMNS),
    ]
    for name in doc["contenders"]:
        if name == "hybrid":
            continue
        row = [cell(paired_ratio(doc, s, m, "hybrid", name)) for s, m, _, _ in COLUMNS]
        if any(c != "–" for c in row):
            lines.append(f"| {doc['contenders'][name]['label']} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def targets(doc: dict[str, Any]) -> list[dict[str, Any]]:
    verdicts = []
    for scenario, metric, kind, other, bound in TARGETS:
        if kind.startswith("ratio"):
            found = paired_ratio(doc, scenario, metric, "hybrid", other)
        else:
            found = values(doc, scenario, "hybrid", metric)
        if not found:
            continue
        median = statistics.median(found)
        met = median <= bound if kind.endswith("<=") else median >= bound
        what = f"hybrid ÷ {other}" if other else "hybrid"
        verdicts.append(
            {
                "scenario": scenario,
                "metric": metric,
                "what": what,
                "median": median,
                "bound": f"{kind[-2:]} {bound:g}",
                "met": met,
            }
        )
    return verdicts


def markdown(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    parts = [
        f"Mode `{doc['mode']}`, {doc['rounds']} interleaved round(s), {doc.get('seconds', 0):.0f} s; "
        f"{m['cpu']}, {m['cores']} cores, Linux {m['kernel']}, Python {m['python']}, load average at start "
        f"{m['loadavg_at_start']}. Medians, (min–max) over rounds.",
        "",
        table(doc),
        "",
        "Ratios, paired by round (hybrid's value divided by the contender's):",
        "",
        ratio_table(doc),
        "",
        "| target | hybrid (median) | bound | met |",
        "|---|---:|---:|:---:|",
    ]
    for v in targets(doc):
        parts.append(
            f"| {v['scenario']} {v['metric']} ({v['what']}) | {_num(v['median'])} | {v['bound']} | "
            f"{'yes' if v['met'] else '**no**'} |"
        )
    if "S7" in doc["runs"]:
        parts += [
            "",
            "S7, paced streams (100 tokens, 20 ms) direct vs through the openai SDK and the simulator:",
            "",
            "| | TTFT p50 ms | TTFT p99 ms | gap p99 ms | CPU µs/event |",
            "|---|---:|---:|---:|---:|",
        ]
        for name in doc["runs"]["S7"]:
            parts.append(
                f"| {doc['contenders'][name]['label']} | "
                + " | ".join(
                    cell(values(doc, "S7", name, k))
                    for k in ("ttft_p50_ms", "ttft_p99_ms", "itl_p99_ms", "cpu_us_per_event")
                )
                + " |"
            )
    return "\n".join(parts) + "\n"


def charts(doc: dict[str, Any], stem: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in doc["contenders"] if n not in ("hybrid-proxy",)]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    for ax, (scenario, metric, heading, higher) in zip(
        axes.flat, [c for c in COLUMNS if c[1] != "release_all_ms"][:6], strict=False
    ):
        shown = [(n, values(doc, scenario, n, metric)) for n in names]
        shown = [(n, v) for n, v in shown if v]
        if not shown:
            ax.set_visible(False)
            continue
        medians = [statistics.median(v) for _, v in shown]
        low = [m - min(v) for m, (_, v) in zip(medians, shown, strict=True)]
        high = [max(v) - m for m, (_, v) in zip(medians, shown, strict=True)]
        colors = [
            "tab:orange"
            if n.startswith("hybrid") or n == "granian"
            else "tab:gray"
            if n == "raw"
            else "tab:blue"
            for n, _ in shown
        ]
        ax.barh([n for n, _ in shown], medians, xerr=[low, high], color=colors)
        ax.invert_yaxis()
        ax.set_title(f"{heading} ({'higher' if higher else 'lower'} is better)", fontsize=10)
        if scenario == "S2" and max(medians) / max(min(medians), 1) > 20:
            ax.set_xscale("log")
    fig.suptitle(f"hybrid vs Flask and peers — {doc['mode']}, {doc['rounds']} round(s), medians with min–max")
    fig.tight_layout()
    overview = stem.with_name(stem.name + "-overview.png")
    fig.savefig(overview, dpi=80)
    plt.close(fig)
    made = [overview]

    storm = doc["runs"].get("S3", {})
    if storm:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        for name, runs in storm.items():
            cdf = next((r["ttft_cdf_ms"] for r in runs if "ttft_cdf_ms" in r), None)
            if cdf:
                ax.plot(
                    cdf,
                    range(0, 101, 2),
                    label=doc["contenders"][name]["label"],
                    linewidth=2.5 if name == "hybrid" else 1.2,
                )
        ax.set_xscale("log")
        ax.set_xlabel("time to first token, ms (log)")
        ax.set_ylabel("% of streams")
        ax.set_title(f"S3 connection storm: {runs[0].get('streams')} streams at once (first round)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = stem.with_name(stem.name + "-s3-storm.png")
        fig.savefig(path, dpi=80)
        plt.close(fig)
        made.append(path)
    return made


def build(path: Path) -> str:
    """Write `<path>.md` and the charts next to `path`; return the markdown."""
    doc = json.loads(path.read_text())
    text = markdown(doc)
    path.with_suffix(".md").write_text(text)
    charts(doc, path.with_suffix(""))
    return text


if __name__ == "__main__":
    print(build(Path(sys.argv[1])))
