"""A benchmark worker: the process that runs one side of one case (``python -m bench.worker``).

The driver (bench/runner.py) starts one worker per side of a case and sends it JSON lines on stdin:

* ``{"cmd": "setup", "case": NAME, "side": "gradserve"|"baseline", "params": {...}}``: call the
  side function; the object it returns is what later runs time;
* ``{"cmd": "run", "inner": N}``: one repetition: collect garbage, then time N calls (``time``
  metric) or make one call that measures itself (``rate`` metric);
* ``{"cmd": "close"}``: close what setup made and exit.

Each command is answered by one JSON line on the worker's original stdout; everything else the
process prints (libraries, servers) is sent to stderr so it cannot corrupt the protocol.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import time
import traceback
from typing import Any

from bench.machine import pin_threads
from bench.registry import GRADSERVE, load_cases


def _maxrss_mb() -> float:
    # ru_maxrss is in KiB on Linux: the peak resident set of this process so far
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class Worker:
    def __init__(self) -> None:
        self.side = ""
        self.metric = "time"
        self.target: Any = None

    def setup(self, case: str, side: str, params: dict[str, Any]) -> dict[str, Any]:
        c = load_cases()[case]
        self.side, self.metric = side, c.metric
        rss_before = _maxrss_mb()
        self.target = c.side(side)(params)
        info: dict[str, Any] = {
            "pid": os.getpid(),
            "threads": pin_threads(),  # after setup: the libraries it loaded are now visible
            "maxrss_mb_before_setup": rss_before,
            "maxrss_mb_after_setup": _maxrss_mb(),
            "numpy": sys.modules["numpy"].__version__ if "numpy" in sys.modules else None,
        }
        if "torch" in sys.modules:
            torch = sys.modules["torch"]
            info["torch"] = torch.__version__
            info["torch_threads"] = torch.get_num_threads()
        self._check_no_torch()
        return info

    def run(self, inner: int) -> dict[str, Any]:
        gc.collect()
        extra: Any = None
        if self.metric == "rate":
            result = self.target()
            value = float(result["value"])
            extra = result.get("extra")
        else:
            start = time.perf_counter()
            for _ in range(inner):
                result = self.target()
            value = (time.perf_counter() - start) / inner
            if isinstance(result, dict):
                extra = result.get("extra")
        self._check_no_torch()
        return {"value": value, "extra": extra, "maxrss_mb": _maxrss_mb()}

    def close(self) -> None:
        target, self.target = self.target, None
        close = getattr(target, "close", None)
        if callable(close):
            close()

    def _check_no_torch(self) -> None:
        if self.side == GRADSERVE and "torch" in sys.modules:
            raise RuntimeError("gradserve's side imported torch: torch must stay a benchmark-only, "
                               "baseline-only dependency")


def main() -> int:
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # fd 1 is stderr from here on: stray prints cannot corrupt the protocol
    worker = Worker()
    try:
        for line in sys.stdin:
            msg = json.loads(line)
            cmd = msg["cmd"]
            try:
                if cmd == "setup":
                    reply: dict[str, Any] = {"info": worker.setup(msg["case"], msg["side"],
                                                                  msg["params"])}
                elif cmd == "run":
                    reply = worker.run(int(msg["inner"]))
                elif cmd == "close":
                    worker.close()
                    proto.write(json.dumps({"ok": True}) + "\n")
                    return 0
                else:
                    raise ValueError(f"unknown command {cmd!r}")
                reply["ok"] = True
            except Exception:
                reply = {"ok": False, "error": traceback.format_exc()}
            proto.write(json.dumps(reply) + "\n")
    finally:
        worker.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
