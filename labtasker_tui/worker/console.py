"""The loop's terminal: job output (prefixed by slot when there are several), diagnostics, a
live status line, and :class:`Tail`, the last lines of a job's output for its failure summary."""

from __future__ import annotations

import re
import sys
from collections import deque
from typing import IO

TAIL_LINES = 20
TAIL_LINE_CHARS = 500
PARTIAL_MAX = 4096   # a prefixed line without newline is flushed past this size
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Console:
    """Job output and diagnostics on the terminal; an optional live status line on stderr."""

    def __init__(self, *, prefix_lines: bool, status_line: bool,
                 out: IO[bytes] | None = None, err: IO[bytes] | None = None) -> None:
        self.prefix_lines = prefix_lines
        self.status_enabled = status_line
        self.out = out or sys.stdout.buffer
        self.err = err or sys.stderr.buffer
        self._status = ""
        self._partial: dict[tuple[str, str], bytes] = {}
        self._dead: set[IO[bytes]] = set()

    def _clear(self) -> None:
        if self.status_enabled and self._status:
            self.err.write(b"\r\x1b[K")

    def _redraw(self) -> None:
        if self.status_enabled and self._status:
            self.err.write(self._status.encode())
            self.err.flush()

    def _write(self, stream: IO[bytes], data: bytes) -> None:
        if stream in self._dead:
            return
        try:
            self._clear()
            stream.write(data)
            stream.flush()
            self._redraw()
        except (OSError, ValueError):  # a closed pipe must not stop the jobs; run.log has it
            self._dead.add(stream)

    def job_output(self, tag: str, which: str, data: bytes, *, final: bool = False) -> None:
        stream = self.out if which == "out" else self.err
        if not self.prefix_lines:
            if data:
                self._write(stream, data)
            return
        key = (tag, which)
        buf = self._partial.pop(key, b"") + data
        lines = buf.split(b"\n")
        rest = lines.pop()
        if (final or len(rest) > PARTIAL_MAX) and rest:
            lines.append(rest)
            rest = b""
        if rest:
            self._partial[key] = rest
        if lines:
            pre = f"[{tag}] ".encode()
            self._write(stream, b"".join(pre + ln + b"\n" for ln in lines))

    def info(self, msg: str) -> None:
        self._write(self.err, (msg + "\n").encode())

    def status(self, text: str) -> None:
        if not self.status_enabled or self.err in self._dead:
            return
        try:
            self._clear()
            self._status = text
            self._redraw()
        except (OSError, ValueError):
            self._dead.add(self.err)

    def close(self) -> None:
        if self.status_enabled and self._status and self.err not in self._dead:
            try:
                self.err.write(b"\r\x1b[K")
                self.err.flush()
            except (OSError, ValueError):
                pass
        self._status = ""


class Tail:
    """The last lines of a job's output, ANSI codes stripped, for the failure summary."""

    def __init__(self) -> None:
        self.lines: deque[str] = deque(maxlen=TAIL_LINES)
        self._partial = ""

    def feed(self, data: bytes) -> None:
        text = self._partial + data.decode("utf-8", "replace").replace("\r", "\n")
        *done, self._partial = text.split("\n")
        for ln in done:
            self.lines.append(ANSI_RE.sub("", ln)[:TAIL_LINE_CHARS])
        self._partial = self._partial[-4 * TAIL_LINE_CHARS:]

    def result(self) -> list[str]:
        out = list(self.lines)
        if self._partial:
            out.append(ANSI_RE.sub("", self._partial)[:TAIL_LINE_CHARS])
        while out and not out[-1].strip():
            out.pop()
        return out[-TAIL_LINES:]

