"""The markdown tables and PNG charts, rebuilt from a results JSON: `python -m benchmarks.report FILE`.

A scenario that failed for a contender in any round (a stream refused, cut or lost; the scenario broke)
has no figure: its cells read `FAILED (completed/expected)`, ratios with it read `FAILED`, its bars are
replaced by a red `FAILED` label, and the raw counts table says what went wrong.
"""

from __future__ import annotations

import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.accounting import Tally

# (scenario, metric, heading, higher is better)
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
PROXY: list[tuple[str, str, str, bool]] = [
    ("S7", "cpu_us_per_token", "S7 CPU µs/token", False),
    ("S7", "ttft_p50_ms", "S7 TTFT p50 ms", False),
    ("S7", "ttft_p99_ms", "S7 TTFT p99 ms", False),
    ("S7", "itl_p99_ms", "S7 gap p99 ms", False),
    ("S7", "client_core_busy", "S7 client core busy", False),
    ("S9", "capacity", "S9 answers @50 tok/s", True),
    ("S9", "client_core_busy_at_first_fail", "S9 client core busy at first fail", False),
]
PAGE: list[tuple[str, str, str]] = [
    ("S10", "requests", "requests"),
    ("S10", "transferred_kb", "transferred KB"),
    ("S10", "decoded_kb", "decoded KB"),
    ("S10", "compressed_requests", "compressed responses"),
    ("S10", "usable_ms", "prompt usable ms"),
    ("S10", "dom_content_loaded_ms", "DOMContentLoaded ms"),
    ("S10", "repeat_transferred_kb", "repeat visit KB"),
    ("S10", "repeat_usable_ms", "repeat visit usable ms"),
]
RENDER: list[tuple[str, str, str]] = [
    ("S11", "stream_s", "stream s"),
    ("S11", "render_ms", "markdown ms"),
    ("S11", "longest_render_ms", "longest render ms"),
    ("S11", "frames", "frames"),
    ("S11", "long_tasks", "tasks over 50 ms"),
    ("S11", "longest_task_ms", "longest task ms"),
    ("S11", "input_delay_ms", "worst input delay ms"),
]
PAGE_BASELINE_KB = 1515.0
"""S10 transferred KB of the chat page before any compression work (21 requests, nothing compressed;
measured 2026-12-02): the target is 0.35x of it."""
NOISE = 0.05
"""A run whose server core spent more than this share of its time on other people's processes is flagged."""
TARGETS: list[tuple[str, str, str, str, str, float]] = [
    # scenario, metric, kind, subject, other contender or "", bound (ratios: subject ÷ other)
    ("S1", "cpu_us_per_event", "ratio<=", "hybrid", "raw", 1.25),
    ("S2", "capacity", "abs>=", "hybrid", "", 2500),
    ("S2", "capacity", "ratio>=", "hybrid", "gthread", 10),
    ("S2", "capacity", "ratio>=", "hybrid", "gevent", 1.5),
    ("S2", "capacity", "ratio>=", "hybrid", "dash-fastapi", 1.5),
    ("S4", "kb_per_stream", "abs<=", "hybrid", "", 15),
    ("S5", "itl_p99_ms", "abs<=", "hybrid", "", 25),
    ("S6", "callback_per_s", "ratio>=", "hybrid", "gthread", 0.9),
    ("S7", "cpu_us_per_token", "ratio<=", "hybrid-openai", "hybrid-local", 2.0),
    ("S7", "cpu_us_per_token", "ratio<=", "hybrid-openai", "gevent-sdk", 0.3),
    ("S7", "ttft_p99_ms", "abs<=", "hybrid-openai", "", 250),
    ("S7", "itl_p99_ms", "abs<=", "hybrid-openai", "", 100),
    ("S9", "capacity", "abs>=", "hybrid-openai", "", 600),
    ("S10", "transferred_kb", "abs<=", "hybrid-local", "", round(0.35 * PAGE_BASELINE_KB)),
    ("S11", "longest_render_ms", "abs<=", "hybrid-local", "", 50),
    ("S11", "long_tasks", "abs<=", "hybrid-local", "", 0),
]


def runs(doc: dict[str, Any], scenario: str, name: str) -> list[dict[str, Any]]:
    return doc["runs"].get(scenario, {}).get(name, [])


def failed(doc: dict[str, Any], scenario: str, name: str) -> str | None:
    """`FAILED (completed/expected)` of the first failed run of `name` in `scenario`; None if none failed."""
    for run in runs(doc, scenario, name):
        if not run.get("ok"):
            bad = [Tally.from_dict(t) for t in run.get("tallies", {}).values()]
            bad = [t for t in bad if not t.ok]
            return bad[0].verdict() if bad else "FAILED (error)"
    return None


def values(doc: dict[str, Any], scenario: str, name: str, metric: str) -> list[float]:
    """The metric over the rounds, when no round failed (a failed round has no figures)."""
    if failed(doc, scenario, name):
        return []
    found = []
    for run in runs(doc, scenario, name):
        value = run.get(metric)
        if value is None and metric in run.get("at_capacity", {}):
            value = run["at_capacity"][metric]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            found.append(float(value))
    return found


def paired_ratio(doc: dict[str, Any], scenario: str, metric: str, a: str, b: str) -> list[float]:
    """a/b per round, for the rounds where both were measured (rounds interleave the contenders)."""
    if failed(doc, scenario, a) or failed(doc, scenario, b):
        return []
    by_round = {}
    for run in runs(doc, scenario, b):
        if isinstance(run.get(metric), (int, float)):
            by_round[run["round"]] = run[metric]
    ratios = []
    for run in runs(doc, scenario, a):
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


def value_cell(doc: dict[str, Any], scenario: str, name: str, metric: str) -> str:
    return failed(doc, scenario, name) or cell(values(doc, scenario, name, metric))


def ratio_cell(doc: dict[str, Any], scenario: str, metric: str, a: str, b: str) -> str:
    if failed(doc, scenario, a) or failed(doc, scenario, b):
        return "FAILED"
    return cell(paired_ratio(doc, scenario, metric, a, b))


def _num(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _table(doc: dict[str, Any], heading: str, columns: list[tuple[str, str, str]], names: list[str]) -> str:
    """Contenders by columns; a row for each contender that took part in any of them."""
    columns = [c for c in columns if any(runs(doc, c[0], n) for n in names)]
    lines = [
        f"| {heading} | " + " | ".join(h for _, _, h in columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for name in names:
        if any(runs(doc, s, name) for s, _, _ in columns):
            row = [value_cell(doc, s, name, m) for s, m, _ in columns]
            lines.append(f"| {doc['contenders'][name]['label']} | " + " | ".join(row) + " |")
    return "\n".join(lines) if columns else ""


def _ratio_table(doc: dict[str, Any], subject: str, columns: list[tuple[str, str, str, bool]]) -> str:
    """`subject` against each contender: the median of the per-round ratios (and their range)."""
    lines = [
        f"| {subject} ÷ contender | " + " | ".join(h for _, _, h, _ in columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for name in doc["contenders"]:
        if name == subject or not any(runs(doc, s, name) and runs(doc, s, subject) for s, *_ in columns):
            continue
        row = [ratio_cell(doc, s, m, subject, name) for s, m, _, _ in columns]
        if any(c != "–" for c in row):
            lines.append(f"| {doc['contenders'][name]['label']} | " + " | ".join(row) + " |")
    return "\n".join(lines) if len(lines) > 2 else ""


def targets(doc: dict[str, Any]) -> list[dict[str, Any]]:
    verdicts = []
    for scenario, metric, kind, subject, other, bound in TARGETS:
        if not runs(doc, scenario, subject) or (other and not runs(doc, scenario, other)):
            continue
        what = f"{subject} ÷ {other}" if other else subject
        verdict = {"scenario": scenario, "metric": metric, "what": what, "bound": f"{kind[-2:]} {bound:g}"}
        if failed(doc, scenario, subject) or (other and failed(doc, scenario, other)):
            verdicts.append({**verdict, "median": None, "met": "FAILED"})
            continue
        if other:
            found = paired_ratio(doc, scenario, metric, subject, other)
        else:
            found = values(doc, scenario, subject, metric)
        if not found:
            continue
        median = statistics.median(found)
        met = median <= bound if kind.endswith("<=") else median >= bound
        verdicts.append({**verdict, "median": median, "met": "yes" if met else "**no**"})
    return verdicts


def counts(doc: dict[str, Any], scenario: str, name: str) -> str:
    """The raw counts behind a contender's figures in a scenario, summed over the rounds."""
    sums: dict[str, Tally] = {}
    notes = []
    for run in runs(doc, scenario, name):
        if "error" in run:
            notes.append(f"round {run['round']}: {run['error']}")
        for key, tally in run.get("tallies", {}).items():
            tally = Tally.from_dict(tally)
            sums[key] = sums[key] + tally if key in sums else tally
        for probe in run.get("probes", []):
            refused = Tally.from_dict(probe["tallies"]["streams"]).refused
            if refused:
                notes.append(f"probe of {probe['streams']}: refused {dict(refused)}")
    parts = [
        (tally.verdict() if tally.ok else "**" + tally.detail() + "**") if len(sums) == 1 else
        f"{key} " + (tally.verdict() if tally.ok else "**" + tally.detail() + "**")
        for key, tally in sums.items()
    ]  # fmt: skip
    if any(run.get("probes") for run in runs(doc, scenario, name)):
        probes = sum(len(run["probes"]) for run in runs(doc, scenario, name))
        parts.append(f"at capacity; {probes} probes")
    noise = max((run.get("server_core_foreign") or 0.0 for run in runs(doc, scenario, name)), default=0.0)
    if noise > NOISE:
        parts.append(f"noise {noise:.0%}")
    return "; ".join(parts + notes) or "–"


def counts_table(doc: dict[str, Any]) -> str:
    scenarios = list(doc["runs"])
    lines = ["| contender | " + " | ".join(scenarios) + " |", "|---|" + "---|" * len(scenarios)]
    for name in doc["contenders"]:
        row = [counts(doc, s, name) if runs(doc, s, name) else "" for s in scenarios]
        lines.append(f"| {doc['contenders'][name]['label']} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def failures(doc: dict[str, Any]) -> list[str]:
    """Every scenario run that failed: `S7 <contender>, round 1: <what failed>`."""
    return [
        f"{scenario} {doc['contenders'][name]['label']}, round {run['round']}: {run.get('failure')}"
        for scenario, contenders in doc["runs"].items()
        for name, found in contenders.items()
        for run in found
        if not run.get("ok")
    ]


def markdown(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    names = list(doc["contenders"])
    parts = [
        f"Mode `{doc['mode']}`, {doc['rounds']} interleaved round(s), {doc.get('seconds', 0):.0f} s; "
        f"{m['cpu']}, {m['cores']} cores, Linux {m['kernel']}, Python {m['python']}, load average at start "
        f"{m['loadavg_at_start']}. Medians, (min–max) over rounds. A scenario that lost, refused or cut "
        "any stream reads FAILED (completed/expected): it has no figure.",
    ]
    failed_runs = [f"- **FAILED** {line}" for line in failures(doc)]
    if failed_runs:
        parts += ["", *failed_runs]
    sections = [
        ("", _table(doc, "contender", [(s, m, h) for s, m, h, _ in COLUMNS] + EXTRA, names)),
        (
            "Ratios, paired by round (hybrid's value divided by the contender's):",
            _ratio_table(doc, "hybrid", COLUMNS),
        ),
        (
            "S7 and S9, chat answers through each contender's chat path (the simulator's 100 tokens, 20 ms "
            "apart; S7 a fixed number of answers, S9 the most within the SLO):",
            _table(doc, "contender", [(s, m, h) for s, m, h, _ in PROXY], names),
        ),
        ("Ratios, paired by round (hybrid through its provider divided by the contender):",
         _ratio_table(doc, "hybrid-openai", [c for c in PROXY if c[1] in ("cpu_us_per_token", "capacity")])),
        ("S10, the chat page's first visit in Chromium (network throttled; median of the visits):",
         _table(doc, "page", PAGE, names)),
        ("S11, a 4,000-token markdown answer on the chat page in Chromium (median of the rounds):",
         _table(doc, "page", RENDER, names)),
    ]  # fmt: skip
    for title, body in sections:
        if body:
            parts += ["", title, "", body] if title else ["", body]
    verdicts = targets(doc)
    if verdicts:
        parts += ["", "| target | median | bound | met |", "|---|---:|---:|:---:|"]
        for v in verdicts:
            median = "–" if v["median"] is None else _num(v["median"])
            parts.append(
                f"| {v['scenario']} {v['metric']} ({v['what']}) | {median} | {v['bound']} | {v['met']} |"
            )
    parts += [
        "",
        "Raw counts behind every figure (completed/expected, summed over rounds; `noise`: the largest share "
        "of a run's time that the server core spent on processes not of this run, when over "
        f"{NOISE:.0%}: the figure is less trustworthy):",
        "",
        counts_table(doc),
    ]
    return "\n".join(parts) + "\n"


@dataclass(frozen=True)
class Bar:
    """One contender in a chart: its median and range, or the verdict that replaces them."""

    name: str
    median: float | None = None
    low: float = 0.0
    high: float = 0.0
    failed: str | None = None


def bars(doc: dict[str, Any], scenario: str, metric: str, names: list[str]) -> list[Bar]:
    """What a chart panel shows: a bar per contender with figures, a FAILED mark per failed one."""
    shown = []
    for name in names:
        verdict = failed(doc, scenario, name)
        found = values(doc, scenario, name, metric)
        if verdict:
            shown.append(Bar(name, failed=verdict))
        elif found:
            median = statistics.median(found)
            shown.append(Bar(name, median, median - min(found), max(found) - median))
    return shown


def _panel(ax: Any, doc: dict[str, Any], scenario: str, metric: str, heading: str, higher: bool) -> bool:
    shown = bars(doc, scenario, metric, list(doc["contenders"]))
    if not shown:
        return False
    labels = [doc["contenders"][b.name]["label"] for b in shown]
    medians = [b.median or 0.0 for b in shown]
    colors = [
        "tab:red"
        if b.failed
        else "tab:orange"
        if b.name.startswith("hybrid") or b.name == "granian"
        else "tab:gray"
        if b.name == "raw"
        else "tab:blue"
        for b in shown
    ]
    ax.barh(labels, medians, xerr=[[b.low for b in shown], [b.high for b in shown]], color=colors)
    for index, bar in enumerate(shown):
        if bar.failed:
            ax.text(  # x in axes fractions: a log axis has no 0
                0.02, index, bar.failed, transform=ax.get_yaxis_transform(), va="center", color="tab:red",
                fontweight="bold", fontsize=8,
            )  # fmt: skip
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=7)
    ax.set_title(f"{heading} ({'higher' if higher else 'lower'} is better)", fontsize=10)
    good = [m for m in medians if m > 0]
    if scenario in ("S2", "S9") and good and max(good) / min(good) > 20:
        ax.set_xscale("log")
    return True


def charts(doc: dict[str, Any], stem: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    title = f"{doc['mode']}, {doc['rounds']} round(s), medians with min–max; red: FAILED, no figure"
    panels = {
        "overview": [c for c in COLUMNS if c[1] != "release_all_ms"][:6],
        "proxy": [c for c in PROXY if c[1] in ("cpu_us_per_token", "ttft_p99_ms", "itl_p99_ms", "capacity")],
    }
    for name, columns in panels.items():
        if not any(runs(doc, s, n) for s, *_ in columns for n in doc["contenders"]):
            continue
        fig, axes = plt.subplots(2, (len(columns) + 1) // 2, figsize=(15 if len(columns) > 4 else 11, 8.5))
        for ax, column in zip(axes.flat, columns, strict=False):
            ax.set_visible(_panel(ax, doc, *column))
        for ax in list(axes.flat)[len(columns) :]:
            ax.set_visible(False)
        fig.suptitle(f"hybrid vs Flask and peers ({name}) — {title}")
        fig.tight_layout()
        path = stem.with_name(f"{stem.name}-{name}.png")
        fig.savefig(path, dpi=80)
        plt.close(fig)
        made.append(path)

    storm = doc["runs"].get("S3", {})
    if storm:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        for name, found in storm.items():
            verdict = failed(doc, "S3", name)
            cdf = next((r["ttft_cdf_ms"] for r in found if "ttft_cdf_ms" in r), None)
            label = doc["contenders"][name]["label"] + (f" — {verdict}" if verdict else "")
            if cdf:
                ax.plot(
                    cdf,
                    range(0, 101, 2),
                    label=label,
                    linewidth=2.5 if name == "hybrid" else 1.2,
                    linestyle=":" if verdict else "-",
                )
        ax.set_xscale("log")
        ax.set_xlabel("time to first token, ms (log)")
        ax.set_ylabel("% of streams")
        ax.set_title(f"S3 connection storm: {found[0].get('streams')} streams at once (first round)")
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
