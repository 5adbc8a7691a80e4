"""The results as a markdown table (printed and written to latest.md) and as JSON."""

from __future__ import annotations

from typing import Any


def fmt_value(value: float | None, metric: str) -> str:
    if value is None:
        return "-"
    if metric == "rate":
        return f"{value:,.0f} req/s"
    ms = value * 1e3
    if ms >= 1000:
        return f"{value:.3g} s"
    return f"{ms:.3g} ms" if ms >= 1 else f"{ms:.3f} ms"


def _median(row: dict[str, Any], side: str) -> float | None:
    s = row.get("sides", {}).get(side)
    return s["median"] if s else None


def _notes(row: dict[str, Any]) -> str:
    notes = []
    sides = row.get("sides", {})
    if row["case"] == "deep_chain":
        for side, label in (("gradserve", "gradserve"), ("baseline", "torch")):
            if side in sides:
                notes.append(f"{label} peak RSS {sides[side]['maxrss_mb']:.0f} MB")
    if row["metric"] == "rate":
        shares = [float(v) for s in sides
                  if (v := (sides[s].get("extra") or {}).get("client_cpu_share_of_one_core"))]
        if shares:
            notes.append(f"load generator used up to {max(shares):.0%} of a core")
    if (row.get("foreign_load") or 0) >= 0.02:
        notes.append(f"other processes used {row['foreign_load']:.0%} of the CPU meanwhile")
    if row.get("discarded_reps"):
        notes.append(f"{row['discarded_reps']} repetitions rerun (machine busy)")
    if row.get("paired_ratio_median") is not None:
        notes.append(f"paired ratio {row['paired_ratio_median']:.2f}")
    if row.get("note"):
        notes.append(row["note"])
    return "; ".join(notes)


def table(rows: list[dict[str, Any]]) -> str:
    head = ["case", "baseline", "gradserve median", "baseline median", "ratio", "target", "result",
            "notes"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        metric = row["metric"]
        ratio = row.get("ratio")
        gradserve = fmt_value(_median(row, "gradserve"), metric)
        if row.get("gradserve_label", "gradserve") != "gradserve" and gradserve != "-":
            gradserve += f" ({row['gradserve_label']})"
        cells = [
            f"`{row['case']}`: {row['title']}", row["baseline_name"], gradserve,
            fmt_value(_median(row, "baseline"), metric),
            f"{ratio:.2f}" if ratio is not None else "-", row["target"], row["status"],
            _notes(row),
        ]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def kernels(results: dict[str, Any]) -> str:
    """Which BLAS / OpenMP libraries each kind of process ran, once per distinct setting."""
    seen: dict[str, set[str]] = {}
    for row in results["cases"]:
        for side, data in row.get("sides", {}).items():
            for lib in data.get("info", {}).get("threads", []):
                if "internal_api" in lib:
                    parts = (lib["internal_api"], lib.get("version"), lib.get("architecture"),
                             f"x{lib.get('num_threads')}")
                    desc = " ".join(p for p in parts if p)
                    seen.setdefault(desc, set()).add(side)
                elif "threadpoolctl" in lib:
                    seen.setdefault("threadpoolctl not installed (thread env vars only)", set()).add(side)
    return "; ".join(f"{d} ({', '.join(sorted(s))})" for d, s in sorted(seen.items())) or "n/a"


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    unset = ", ".join(f"{k}={v}" for k, v in m["unset_in_benchmark"].items()) or "none set"
    lines = [
        f"# gradserve benchmarks ({results['mode']}), {results['started']}",
        "",
        f"Machine: {m['cpu_model']}, {m['cpu_count']} cores, {m['memory_gib']} GiB; "
        f"{m['platform']}; Python {m['python']}, numpy {m['numpy']}, torch {m['torch']}, "
        f"fastapi {m['fastapi']}, uvicorn {m['uvicorn']}.",
        f"Threads: {m['threads']} for numpy's BLAS and torch in every process; unset in the "
        f"benchmark processes: {unset}. Kernels that ran: {kernels(results)}.",
        f"Command: `{results['command']}`; {results['elapsed_s']:.0f} s.",
        "",
        "Medians over the timed repetitions (each side in its own process, alternating); "
        "ratio = gradserve / baseline (time per call, or requests/s for the HTTP rows).",
        "",
        table(results["cases"]),
        "",
    ]
    return "\n".join(lines)
