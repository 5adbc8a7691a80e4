"""The translations of recent sources, per app: a client re-sending the same code (a notebook
cell run again with another seed, a training script polled) skips parsing and translating.

A translation depends only on the source text, the names the request's inputs give (read as
tensors) and the app's limits (fixed for the app's life),
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
Key = tuple[str, frozenset[str]]  # the source, and the names its request's inputs give


class TranslationCache:
    def __init__(self, entries: int) -> None:
        self.entries = entries
        self._items: OrderedDict[Key, tuple[Translation, list[Any]]] = OrderedDict()
        self._lock = threading.Lock()  # requests translate in several worker threads

    def get(self, key: Key) -> tuple[Translation, list[Any]] | None:
        if not self.entries:
            return None
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: Key, value: tuple[Translation, list[Any]]) -> None:
        if not self.entries or len(key[0]) > MAX_CACHED_CHARS:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)
