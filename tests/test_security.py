"""The package source (engine/, service/) is walked with ``ast``: nothing a request can reach may
evaluate code (eval, exec, compile, __import__, pickle, marshal, ...), start processes
(subprocess, os.system, ...), open connections (socket, urllib, http.client, httpx, ...), touch
the filesystem (open(), pathlib reads and writes, os file calls, numpy's load/save, tempfile,
shutil, glob), or look attributes up by a computed name (getattr(numpy, name) with a name from a
request would reach anything in numpy).

The few places that need one of these are listed in ALLOWED, each with the reason it is safe: the
code runs at start-up, before any request, or it touches only a path fixed by the server's own
configuration. An entry that no longer matches anything fails the suite too, so the list stays
exact. See SECURITY.md for the threat model.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "service")

# module (or its prefix) -> why it has no place in request-reachable code
FORBIDDEN_MODULES = {
    "pickle": "deserialising bytes runs code", "_pickle": "deserialising bytes runs code",
    "cPickle": "deserialising bytes runs code", "marshal": "loads code objects",
    "shelve": "pickle on disk", "dill": "pickle", "cloudpickle": "pickle", "joblib": "pickle",
    "subprocess": "runs programs", "pty": "runs programs", "multiprocessing": "starts processes",
    "socket": "network access", "ssl": "network access", "http.client": "network access",
    "urllib": "network access", "urllib3": "network access", "requests": "network access",
    "httpx": "network access", "aiohttp": "network access", "ftplib": "network access",
    "smtplib": "network access", "telnetlib": "network access", "xmlrpc": "network access",
    "webbrowser": "starts programs", "ctypes": "calls arbitrary native code",
    "cffi": "calls arbitrary native code", "importlib": "imports modules by name",
    "runpy": "runs modules", "code": "interactive interpreter", "codeop": "compiles code",
    "tempfile": "filesystem access", "shutil": "filesystem access", "glob": "filesystem access",
    "pathlib": "filesystem access", "fileinput": "filesystem access", "zipfile": "filesystem",
    "tarfile": "filesystem access", "sqlite3": "filesystem access", "dbm": "filesystem access",
}
FORBIDDEN_BUILTINS = {
    "eval": "evaluates code", "exec": "executes code", "compile": "compiles code",
    "__import__": "imports modules by name", "open": "filesystem access",
    "breakpoint": "starts a debugger", "input": "reads the terminal",
}
# os.<name>(...) calls that run programs, send signals or touch the filesystem
FORBIDDEN_OS = {
    "system", "popen", "fork", "forkpty", "kill", "killpg", "remove", "unlink", "rmdir",
    "removedirs", "mkdir", "makedirs", "rename", "renames", "replace", "open", "fdopen", "listdir",
    "scandir", "walk", "chmod", "chown", "symlink", "link", "truncate", "putenv", "unsetenv",
    "chdir", "startfile", "execv", "execve", "execl", "execle", "execlp", "execlpe", "execvp",
    "execvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp",
    "spawnvpe", "posix_spawn", "posix_spawnp",
}
# os.path.<name>(...) calls that look at the filesystem (join, basename, ... are pure)
FORBIDDEN_OS_PATH = {
    "exists", "lexists", "isdir", "isfile", "islink", "ismount", "getsize", "getmtime",
    "getatime", "getctime", "realpath", "samefile", "expanduser",
}
# method names that read or write files whatever the object (pathlib.Path, numpy arrays)
FORBIDDEN_METHODS = {
    "read_text", "write_text", "read_bytes", "write_bytes", "tofile", "touch", "symlink_to",
    "hardlink_to", "unlink", "rmdir", "iterdir", "rglob",
}
# numpy's file I/O, under any of the names numpy goes by here
NUMPY_NAMES = {"np", "numpy", "xp", "cupy"}
FORBIDDEN_NUMPY = {
    "load", "save", "savez", "savez_compressed", "fromfile", "loadtxt", "savetxt", "genfromtxt",
    "memmap", "fromregex", "DataSource",
}
DYNAMIC_ATTRIBUTE = {"getattr", "setattr", "delattr"}


@dataclass(frozen=True)
class Finding:
    path: str  # relative to the repository, e.g. "service/app.py"
    scope: str  # the enclosing function or class, dotted ("<module>" at top level)
    what: str  # e.g. "import tempfile", "call open", "call os.kill", "getattr(computed)"
    line: int

    def key(self) -> tuple[str, str, str]:
        return self.path, self.scope, self.what

    def __str__(self) -> str:
        return f"{self.path}:{self.line} in {self.scope}: {self.what}"


# (path, scope, what) -> why it is safe. Keep each reason specific.
ALLOWED: dict[tuple[str, str, str], str] = {
    ("engine/backend.py", "_load", "import importlib"):
        "at import time: loads the backend named by GRADSERVE_BACKEND (a fixed module name, "
        "tests.strict_xp, for the test backend), never a name from a request",
    ("service/allocator.py", "<module>", "import ctypes"):
        "loads the C library by the constant name libc.so.6 once, at import, and calls only "
        "its malloc_trim(0) (no argument from a request): hands free heap pages back",
    ("service/__main__.py", "<module>", "import glob"):
        "the command-line entry point; used only by prepare_metrics_dir, before the server starts",
    ("service/__main__.py", "<module>", "import shutil"):
        "the command-line entry point; used only by prepare_metrics_dir, before the server starts",
    ("service/__main__.py", "<module>", "import tempfile"):
        "the command-line entry point; used only by prepare_metrics_dir, before the server starts",
    ("service/__main__.py", "main", "call os.execv"):
        "start-up, once, before anything is served: the server restarts itself (the same "
        "interpreter, python -m service, its own arguments) with the allocator setting of "
        "service/allocator.py",
    ("service/__main__.py", "prepare_metrics_dir", "call os.makedirs"):
        "start-up: creates PROMETHEUS_MULTIPROC_DIR (from the environment) before uvicorn runs",
    ("service/__main__.py", "prepare_metrics_dir", "call os.remove"):
        "start-up: empties PROMETHEUS_MULTIPROC_DIR of an earlier run's *.db files",
    ("service/routers/docs.py", "<module>", "import pathlib"):
        "at import time: the static folder of the installed fastapi-offline package (Swagger UI "
        "and ReDoc's files), which StaticFiles serves read-only; it refuses any path that would "
        "leave that folder, so a request picks among those files only",
    ("service/metrics.py", "<module>", "import glob"):
        "lists only the metrics directory fixed at start (PROMETHEUS_MULTIPROC_DIR)",
    ("service/metrics.py", "multiprocess_dir", "call os.path.isdir"):
        "checks only the metrics directory fixed at start (PROMETHEUS_MULTIPROC_DIR)",
    ("service/examples.py", "<module>", "import pathlib"):
        "locates examples/ (the package's copy or the checkout's) for the playground's menu",
    ("service/examples.py", "load_examples", "call .iterdir()"):
        "at import of the playground router: lists the fixed examples folder once; requests get "
        "the list made then",
    ("service/examples.py", "load_examples", "call .read_text()"):
        "at import of the playground router: reads the files of the fixed examples folder once",
    ("service/routers/playground.py", "<module>", "import pathlib"):
        "locates service/static, the built playground files shipped in the package",
    ("service/routers/playground.py", "<module>", "call .read_bytes()"):
        "at import: reads service/static/index.html once, the page GET / answers",
    ("service/routers/playground.py", "_read_assets", "call .iterdir()"):
        "at import: lists service/static/playground once; a request only looks a name up in the "
        "dict made then, so no request names a path",
    ("service/routers/playground.py", "_read_assets", "call .read_bytes()"):
        "at import: reads each built playground file once into memory",
    ("service/metrics.py", "_forget_dead_workers", "call os.kill"):
        "signal 0 to the pids named by the metrics files: sends nothing, only asks whether a "
        "worker is alive (GET /metrics)",
}
# Computed getattr/setattr is allowed where the name comes from code, not from a request:
# (path, scope) -> why; scope "*" covers the whole file.
ALLOWED_DYNAMIC: dict[tuple[str, str], str] = {
    ("engine/ops/methods.py", "install"):
        "at import time: installs the registry's ops as Tensor methods, by their registered names",
    ("service/settings.py", "Settings.limits"):
        "reads the settings named in the constant LIMIT_FIELDS",
}


def _dynamic_allowed(f: Finding) -> bool:
    return (f.path, f.scope) in ALLOWED_DYNAMIC or (f.path, "*") in ALLOWED_DYNAMIC


def _module_files() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


class _Walker(ast.NodeVisitor):
    def __init__(self, path: str) -> None:
        self.path = path
        self.scopes: list[str] = []
        self.found: list[Finding] = []
        self.os_aliases = {"os"}
        self.os_path_aliases: set[str] = set()

    def _add(self, node: ast.AST, what: str) -> None:
        scope = ".".join(self.scopes) or "<module>"
        self.found.append(Finding(self.path, scope, what, getattr(node, "lineno", 0)))

    def _scoped(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.scopes.append(node.name)
        self.generic_visit(node)
        self.scopes.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scoped

    @staticmethod
    def _forbidden_module(name: str) -> bool:
        return any(name == m or name.startswith(m + ".") for m in FORBIDDEN_MODULES)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if self._forbidden_module(alias.name):
                self._add(node, f"import {alias.name}")
            if alias.name == "os":
                self.os_aliases.add(alias.asname or "os")
            if alias.name == "os.path":
                self.os_path_aliases.add(alias.asname or "os.path")
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level == 0 and self._forbidden_module(module):
            self._add(node, f"import {module}")
        if node.level == 0 and module == "os":
            for alias in node.names:
                if alias.name in FORBIDDEN_OS:
                    self._add(node, f"import os.{alias.name}")
                if alias.name == "path":
                    self.os_path_aliases.add(alias.asname or "path")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        f = node.func
        if isinstance(f, ast.Name):
            if f.id in FORBIDDEN_BUILTINS:
                self._add(node, f"call {f.id}")
            if f.id in DYNAMIC_ATTRIBUTE and len(node.args) >= 2 and not (
                    isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
                self._add(node, f"{f.id}(computed)")
        elif isinstance(f, ast.Attribute):
            base = f.value
            if isinstance(base, ast.Name) and base.id in self.os_aliases and f.attr in FORBIDDEN_OS:
                self._add(node, f"call os.{f.attr}")
            elif f.attr in FORBIDDEN_OS_PATH and (
                    (isinstance(base, ast.Attribute) and base.attr == "path"
                     and isinstance(base.value, ast.Name) and base.value.id in self.os_aliases)
                    or (isinstance(base, ast.Name) and base.id in self.os_path_aliases)):
                self._add(node, f"call os.path.{f.attr}")
            elif isinstance(base, ast.Name) and base.id in NUMPY_NAMES and f.attr in FORBIDDEN_NUMPY:
                self._add(node, f"call {base.id}.{f.attr}")
            elif f.attr in FORBIDDEN_METHODS:
                self._add(node, f"call .{f.attr}()")
            elif f.attr in ("eval", "exec") and isinstance(base, ast.Name) and base.id == "builtins":
                self._add(node, f"call builtins.{f.attr}")
        self.generic_visit(node)


def findings() -> list[Finding]:
    out: list[Finding] = []
    for file in _module_files():
        rel = file.relative_to(ROOT).as_posix()
        walker = _Walker(rel)
        walker.visit(ast.parse(file.read_text(), filename=rel))
        out += walker.found
    return out


def test_the_walk_sees_the_packages() -> None:
    files = [f.relative_to(ROOT).as_posix() for f in _module_files()]
    assert "service/app.py" in files and "engine/tensor.py" in files and len(files) > 30


def test_nothing_request_reachable_evaluates_code_spawns_connects_or_touches_files() -> None:
    bad = [f for f in findings() if f.key() not in ALLOWED and not (
        f.what.endswith("(computed)") and _dynamic_allowed(f))]
    assert not bad, "not allowed (see tests/test_security.py and SECURITY.md):\n" + "\n".join(
        map(str, bad))


def test_every_allowance_is_still_needed() -> None:
    seen = {f.key() for f in findings()}
    dynamic = [f for f in findings() if f.what.endswith("(computed)")]
    seen_dynamic = {(f.path, f.scope) for f in dynamic} | {(f.path, "*") for f in dynamic}
    stale: list[tuple[str, str, str] | tuple[str, str]] = [k for k in ALLOWED if k not in seen]
    stale += [k for k in ALLOWED_DYNAMIC if k not in seen_dynamic]
    assert not stale, f"allowances that match nothing any more, remove them: {stale}"
    assert all(len(reason) > 20 for reason in (*ALLOWED.values(), *ALLOWED_DYNAMIC.values()))


def test_the_walker_catches_what_it_looks_for() -> None:
    sample = '''
import pickle, os
from subprocess import run
import urllib.request as u
def handler(name, data):
    eval(data); exec(data); __import__(name); open(name).read()
    os.system(name); os.path.exists(name); os.remove(name)
    import numpy as np
    np.load(name); getattr(np, name); getattr(np, "float32")
    from pathlib import Path
    Path(name).read_text(); Path(name).write_bytes(data)
'''
    walker = _Walker("sample.py")
    walker.visit(ast.parse(sample))
    got = {f.what for f in walker.found}
    assert got == {
        "import pickle", "import subprocess", "import urllib.request", "call eval", "call exec",
        "call __import__", "call open", "call os.system", "call os.path.exists", "call os.remove",
        "call np.load", "getattr(computed)", "import pathlib", "call .read_text()",
        "call .write_bytes()"}


def test_security_md_states_every_limit_with_its_default() -> None:
    from service.settings import LIMIT_FIELDS, Settings

    text = (ROOT / "SECURITY.md").read_text()
    rows = dict(re.findall(r"^\| `(GRADSERVE_[A-Z_]+)` \| `([^`]*)` \|", text, re.M))
    for name in (*LIMIT_FIELDS, "worker_threads", "queue_size"):
        var = f"GRADSERVE_{name.upper()}"
        assert rows.get(var) == str(Settings.model_fields[name].default), var
    for part in ("## Reporting a problem", "## Threat model", "## Limits", "Hostile requests",
                 "Resource exhaustion", "Secrets in logs"):
        assert part in text, part
