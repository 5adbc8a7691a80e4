"""The translations of recent sources, per app: a client re-sending the same code (a notebook
cell run again with another seed, a training script polled) skips parsing and translating.

A translation depends only on the source text and the app's limits (fixed for the app's life),
so a cached one is the very program a fresh translation would give; the validated program models
are shared read-only, as the compiler and the interpreter never change them. Bounded: at most
``entries`` sources of at most ``MAX_CACHED_CHARS`` characters, least recently used first out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from service.source.translator import Translation

MAX_CACHED_CHARS = 20_000


class TranslationCache:
    def __init__(self, entries: int) -> None:
        self.entries = entries
        self._items: OrderedDict[str, tuple[Translation, list[Any]]] = OrderedDict()
        self._lock = threading.Lock()  # requests translate in several worker threads

    def get(self, source: str) -> tuple[Translation, list[Any]] | None:
        if not self.entries:
            return None
        with self._lock:
            hit = self._items.get(source)
            if hit is not None:
                self._items.move_to_end(source)
            return hit

    def put(self, source: str, value: tuple[Translation, list[Any]]) -> None:
        if not self.entries or len(source) > MAX_CACHED_CHARS:
            return
        with self._lock:
            self._items[source] = value
            self._items.move_to_end(source)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)
