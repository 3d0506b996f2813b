"""Parsed files of a local store, kept while the file is unchanged: session manifests, API key records.

A hit costs one `os.stat`, so a rewrite (a manifest going processing → completed, a repaired
artifact list, a revoked key) is seen by the very next request. Writers replace files (temporary
file + `os.replace`), which changes the inode, ctime and usually the size; the cache compares all
of them with the mtime. On a network store checking costs a round trip, as much as reading a small
object, so nothing is cached there; nor for subclasses of `LocalStorage`, which may read otherwise
(wrappers, fault-injecting test doubles). Callers share the parsed value: they must not mutate it.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from pipeline.storage import LocalStorage, Storage

T = TypeVar("T")
_Signature = tuple[int, int, int, int]


def cacheable(storage: Storage) -> bool:
    return type(storage) is LocalStorage


def _signature(st: os.stat_result) -> _Signature:
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


class FileCache(Generic[T]):
    """`read(storage, key)` = `parse(storage.read_bytes(key))`, remembered for up to `maxsize` local files."""

    def __init__(self, parse: Callable[[bytes], T], maxsize: int) -> None:
        self._parse = parse
        self._maxsize = maxsize
        self._entries: OrderedDict[tuple[str, str], tuple[str, _Signature, T]] = OrderedDict()
        self._lock = threading.Lock()  # sync endpoints run on worker threads

    def read(self, storage: Storage, key: str) -> T:
        if not cacheable(storage):
            return self._parse(storage.read_bytes(key))
        assert isinstance(storage, LocalStorage)
        slot = (storage.uri, key)
        with self._lock:
            entry = self._entries.get(slot)
        path = entry[0] if entry is not None else os.fspath(storage.path(key))  # path() validates the key
        try:
            signature = _signature(os.stat(path))
        except FileNotFoundError:
            self._forget(slot)
            raise
        if entry is not None and entry[1] == signature:
            with self._lock:
                if slot in self._entries:
                    self._entries.move_to_end(slot)
            return entry[2]
        with open(path, "rb") as f:  # the signature of what is read, not of what was stat'ed
            signature = _signature(os.fstat(f.fileno()))
            data = f.read()
        value = self._parse(data)
        with self._lock:
            self._entries[slot] = (path, signature, value)
            self._entries.move_to_end(slot)
            while len(self._entries) > self._maxsize:
                self._entries.popitem(last=False)
        return value

    def _forget(self, slot: tuple[str, str]) -> None:
        with self._lock:
            self._entries.pop(slot, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
