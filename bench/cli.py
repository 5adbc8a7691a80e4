"""``python -m bench``: run the cases, print the markdown table, write the results.

    python -m bench                      # every case, full size (needs the bench extra: torch)
    python -m bench --case chain --case mlp_torch
    python -m bench --smoke --out DIR    # every case once at tiny size, torch-free sides only
    python -m bench --list

Results: ``<out>/<UTC timestamp>.json`` and ``<out>/latest.md`` (``--out`` defaults to
bench/results; smoke runs write ``...-smoke.json`` and ``latest-smoke.md``).
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib.util
import json
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.machine import REPO, machine_info, torch_available
from bench.registry import BASELINE, GRADSERVE, Case, load_cases
from bench.runner import MAX_FOREIGN, run_case

RESULTS = REPO / "bench" / "results"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def service_missing() -> str | None:
    """None when ``service.app`` is importable (the service cases can run), else why not."""
    from bench.servers import service_app

    try:
        service_app()
    except Exception as exc:  # ImportError while it is being written, or any error importing it
        return f"{type(exc).__name__}: {exc}"
    return None


def gpu_missing() -> str | None:
    if importlib.util.find_spec("cupy") is None:
        return "CuPy is not installed"
    if shutil.which("nvidia-smi") is None:
        return "no NVIDIA GPU here"
    return None


def _row(case: Case) -> dict[str, Any]:
    return {"case": case.name, "title": case.title, "baseline_name": case.baseline_name,
            "gradserve_label": case.gradserve_label, "metric": case.metric,
            "target": str(case.target), "note": case.note}


def run(args: argparse.Namespace) -> dict[str, Any]:
    cases = list(load_cases().values())
    if args.case:
        cases = [c for c in cases if any(fnmatch.fnmatch(c.name, pat) for pat in args.case)]
        if not cases:
            raise SystemExit(f"no case matches {args.case}; see --list")
    have_torch = torch_available()
    if not args.smoke and not have_torch and any(c.baseline_needs_torch for c in cases):
        raise SystemExit("torch is not installed: pip install -e '.[bench]' (or run --smoke)")
    missing = {"service": service_missing(), "gpu": gpu_missing()}
    started = datetime.now(UTC)
    t0 = time.monotonic()
    rows = []
    for case in cases:
        row = _row(case)
        rows.append(row)
        why = missing.get(case.needs) if case.needs else None
        if why:
            row["status"] = "pending service" if case.needs == "service" else "skipped (no GPU)"
            row["reason"] = why
            _log(f"{case.name}: {row['status']} ({why})")
            continue
        sides = [GRADSERVE, BASELINE]
        if args.smoke and case.baseline_needs_torch:
            sides = [GRADSERVE]  # the smoke test runs without torch
        _log(f"{case.name}: running {' and '.join(sides)}")
        row.update(run_case(case, args.smoke, sides, reps=args.reps, warmup=args.warmup, log=_log))
        if "error" in row:
            row["status"] = "error"
            _log(f"{case.name}: error\n{row['error']}")
        elif args.smoke:
            row["status"] = "ran (smoke)"
        else:
            row["status"] = "info" if case.target.op == "info" else \
                "pass" if case.target.holds(row.get("ratio")) else "FAIL"
            if (row.get("foreign_load") or 0) >= MAX_FOREIGN:
                row["status"] += " (busy machine)"  # measured beside others' work: not conclusive
    return {
        "mode": "smoke" if args.smoke else "full",
        "command": " ".join(["python -m bench", *sys.argv[1:]]),
        "started": started.strftime("%Y-%m-%d %H:%M:%SZ"),
        "elapsed_s": time.monotonic() - t0,
        "machine": machine_info(),
        "cases": rows,
    }


def write(results: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    stamp = results["started"].replace("-", "").replace(":", "").replace(" ", "T")
    suffix = "-smoke" if results["mode"] == "smoke" else ""
    path = out / f"{stamp}{suffix}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    (out / f"latest{suffix}.md").write_text(report.markdown(results))
    return path


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true",
                   help="tiny sizes, one call per side, sides that need no torch only")
    p.add_argument("--case", action="append", metavar="NAME",
                   help="run only cases matching NAME (a glob; repeatable)")
    p.add_argument("--reps", type=int, help="timed repetitions per side (default: per case, >= 5)")
    p.add_argument("--warmup", type=int, help="warm-up repetitions per side (default: per case)")
    p.add_argument("--out", type=Path, default=RESULTS, help="results folder (default: %(default)s)")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    args = p.parse_args(argv)
    if args.reps is not None and args.reps < 5 and not args.smoke:
        p.error("--reps must be at least 5")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.list:
        for c in load_cases().values():
            print(f"{c.name:16} {c.target!s:10} vs {c.baseline_name}: {c.title}")
        return 0
    results = run(args)
    path = write(results, args.out)
    print(report.table(results["cases"]))
    _log(f"wrote {path} and {path.parent / ('latest' + ('-smoke' if args.smoke else '') + '.md')}")
    return 1 if any(r["status"] == "error" for r in results["cases"]) else 0
