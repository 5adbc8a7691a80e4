"""The committed playground build (service/static/playground) is the build of web/ as it is:
web/build.mjs records a digest of the files it was built from, recomputed here, so a change to
web/ without `scripts/build_web.sh` fails (the way openapi/openapi.json's drift test does)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
STAMP = ROOT / "service" / "static" / "playground" / "build-sources.json"


def test_playground_build_is_up_to_date_with_web() -> None:
    files = sorted([*(p.relative_to(WEB).as_posix() for p in (WEB / "src").rglob("*") if p.is_file()),
                    "build.mjs", "package.json", "package-lock.json"])
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path}\0".encode())
        digest.update((WEB / path).read_bytes())
        digest.update(b"\0")
    stamp = json.loads(STAMP.read_text())
    assert stamp["files"] == files, "web/ changed: run scripts/build_web.sh and commit the build"
    assert stamp["sha256"] == digest.hexdigest(), \
        "web/ changed since service/static/playground was built: run scripts/build_web.sh"
    # the page and its stylesheet are copied as they are
    for name in ("index.html", "playground.css"):
        assert (STAMP.parent / name).read_bytes() == (WEB / "src" / name).read_bytes()
