"""Which bridge for Dash? S6's Dash traffic through hybrid with a2wsgi, with `DashBridge`, and with
everything of the Dash side (`DashBridge`, native files, gzip), beside gunicorn gthread, in one run.

    taskset -c 1 .venv/bin/python -m benchmarks.dash_bridge [--rounds 3] [--seconds 1.5]

Each variant is the benchmark's hybrid app (`benchmarks/apps/hybrid_app.py`) with `router.default`
rebuilt: `a2wsgi` is the composition hybrid had before (`DashCallbackGuard` over a2wsgi's
`WSGIMiddleware`, the counted pool), `bridge` swaps in `DashBridge` alone, `hybrid` is `create_app` as
it is. Rounds interleave the contenders (the order rotates); each kind of request (page, asset, light
callback) runs closed-loop with S6's 16 clients. Per variant: medians and (min-max) of requests/s, p99
and server CPU per request, the noise figure, and the raw counts. Results:
`benchmarks/results/dash-bridge.json`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
from typing import Any

from benchmarks import scenarios
from benchmarks.accounting import Tally
from benchmarks.contenders import CONTENDERS, Contender, Server, _uvicorn
from benchmarks.run import RESULTS
from benchmarks.scenarios import QUICK

KINDS = ("page", "asset", "callback")
FIGURES = ("per_s", "p99_ms", "cpu_us")


def a2wsgi_app() -> Any:
    """hybrid's benchmark app with Dash served as before: a2wsgi's `WSGIMiddleware` under the guard."""
    from a2wsgi import WSGIMiddleware

    from benchmarks.apps.hybrid_app import app
    from hybrid._dash.serving.app import bridge_dash
    from hybrid._dash.serving.callback_guard import DashCallbackGuard

    pool = app.metrics.wsgi_pool(1)
    bridge_dash(app.dash_app, secret_key="unused", executor=pool)  # the mount, the secret, the backend check
    pool.shutdown()
    wsgi = WSGIMiddleware(app.dash_app.server, workers=app.settings.wsgi_threads)
    app.router.default = DashCallbackGuard(wsgi, callbacks=app.dash_app.callback_map)
    return app


def bridge_app() -> Any:
    """hybrid's benchmark app with `DashBridge` alone (no native files, no gzip)."""
    from benchmarks.apps.hybrid_app import app
    from hybrid._dash.serving.app import bridge_dash
    from hybrid._dash.serving.callback_guard import DashCallbackGuard

    pool = app.metrics.wsgi_pool(app.settings.wsgi_threads)
    bridge = bridge_dash(app.dash_app, secret_key="unused", executor=pool)
    app.router.default = DashCallbackGuard(bridge, callbacks=app.dash_app.callback_map)
    return app


def _variant(name: str, label: str, factory: str) -> Contender:
    uvicorn = _uvicorn(
        f"benchmarks.dash_bridge:{factory}", "--factory", "--loop", "uvloop", "--http", "httptools"
    )
    return dataclasses.replace(CONTENDERS["hybrid"], name=name, label=label, commands=(uvicorn,))


VARIANTS = {
    "a2wsgi": _variant("a2wsgi", "hybrid, Dash through a2wsgi (before)", "a2wsgi_app"),
    "bridge": _variant("bridge", "hybrid, Dash through DashBridge only", "bridge_app"),
    "hybrid": CONTENDERS["hybrid"],
    "gthread": CONTENDERS["gthread"],
}


def measure(contender: Contender, seconds: float) -> dict[str, Any]:
    """S6 (page, asset, light callback) on a fresh, warm server of `contender`."""
    sizes = dataclasses.replace(QUICK, s6_seconds=seconds)
    with Server(contender) as server:
        scenarios.warm_up(server)
        return scenarios.s6_dash_side(server, sizes)


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians and (min, max) of every figure, the largest noise, and the summed raw counts."""
    out: dict[str, Any] = {"rounds": len(runs), "ok": all(r["ok"] for r in runs)}
    for kind in KINDS:
        for figure in FIGURES:
            values = [r[f"{kind}_{figure}"] for r in runs if r.get(f"{kind}_{figure}") is not None]
            if values:
                out[f"{kind}_{figure}"] = (statistics.median(values), min(values), max(values))
    out["noise"] = max(r.get("server_core_foreign", 0.0) for r in runs)
    out["counts"] = {
        kind: sum((Tally.from_dict(r["tallies"][kind]) for r in runs), Tally(0, 0, 0)).verdict()
        for kind in KINDS
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--contenders", default=",".join(VARIANTS))
    args = parser.parse_args()
    names = args.contenders.split(",")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for index in range(args.rounds):
        order = names[index % len(names) :] + names[: index % len(names)]
        for name in order:
            result = measure(VARIANTS[name], args.seconds)
            runs[name].append(result)
            print(
                f"round {index + 1} {name}: callback {result['callback_per_s']:.0f}/s "
                f"{result['callback_cpu_us']:.0f} µs, page {result['page_per_s']:.0f}/s, "
                f"asset {result['asset_per_s']:.0f}/s, noise {result['server_core_foreign']:.0%}",
                flush=True,
            )
    summary = {name: summarize(results) for name, results in runs.items()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "dash-bridge.json").write_text(json.dumps({"summary": summary, "runs": runs}, indent=1))
    print(f"\n{'variant':<9}" + "".join(f"{kind + ' ' + f:>24}" for kind in KINDS for f in FIGURES[:1]))
    for name, result in summary.items():
        cells = []
        for kind in KINDS:
            for figure in FIGURES:
                median, low, high = result.get(f"{kind}_{figure}", (float("nan"),) * 3)
                cells.append(f"{kind} {figure} {median:,.0f} ({low:,.0f}-{high:,.0f})")
        print(f"{name:<9} " + "; ".join(cells) + f"; noise {result['noise']:.0%}; {result['counts']}")
    if "gthread" in summary:
        for name in names:
            if name != "gthread" and "callback_per_s" in summary[name]:
                ratios = [
                    a["callback_per_s"] / b["callback_per_s"]
                    for a, b in zip(runs[name], runs["gthread"], strict=True)
                ]
                print(f"{name} ÷ gthread callbacks/s, paired by round: {statistics.median(ratios):.2f} "
                      f"({min(ratios):.2f}-{max(ratios):.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
