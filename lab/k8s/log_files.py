"""Following growing JSON-lines files: the new complete lines since the last read, and the
thread that polls them."""

from __future__ import annotations

import os
import threading


class Poller:
    """A daemon thread calling `poll()` every `interval` seconds until stopped."""

    def __init__(self, name: str, interval: float) -> None:
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def poll(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.poll()


class FileTail:
    """Reads the complete lines appended to a file since the last call.

    A file replaced (new inode) or truncated is read again from its start; a partial last
    line waits for its newline.
    """

    def __init__(self, path: str, from_end: bool) -> None:
        self.path = path
        self._inode: int | None = None
        self._offset = 0
        if from_end:
            try:
                st = os.stat(path)
                self._inode, self._offset = st.st_ino, st.st_size
            except OSError:
                pass

    def read_lines(self) -> list[str]:
        try:
            st = os.stat(self.path)
        except OSError:
            return []
        if st.st_ino != self._inode or st.st_size < self._offset:
            self._inode, self._offset = st.st_ino, 0
        if st.st_size == self._offset:
            return []
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read(st.st_size - self._offset)
        except OSError:
            return []
        complete, _, _ = chunk.rpartition(b"\n")
        if not complete:
            return []
        self._offset += len(complete) + 1
        text = complete.decode("utf-8", "replace")
        return [raw for raw in text.splitlines() if raw.strip()]
