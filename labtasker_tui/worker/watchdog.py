"""Kill a ``loop``'s jobs when the loop dies, however it dies (SIGKILL included).

``python -m labtasker_tui.worker.watchdog`` runs as a small helper next to each ``loop``, in
its own session and ignoring SIGINT/SIGHUP/SIGTERM. The loop writes ``+PGID`` / ``-PGID``
lines on the helper's stdin as jobs start and end. End of file on stdin means the loop is
gone (the kernel closes its end of the pipe on any exit): the helper sends SIGTERM to every
registered process group, waits ``--grace`` seconds, sends SIGKILL to what is left and exits.

This module imports only the standard library, so the helper starts in a few milliseconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

DEFAULT_GRACE = 1.0


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _only_zombies(pgid)


def _only_zombies(pgid: int) -> bool:
    """True when every process left in the group is a zombie (dead, awaiting its reaper)."""
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return False
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z":
            return False
    return True


def kill_groups(pgids: set[int], grace: float) -> None:
    """SIGTERM every group, wait up to ``grace`` seconds for them to go, then SIGKILL."""
    for pgid in pgids:
        try:
            os.killpg(pgid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + grace
    left = {p for p in pgids if _alive(p)}
    while left and time.monotonic() < deadline:
        time.sleep(0.02)
        left = {p for p in left if _alive(p)}
    for pgid in left:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def serve(fd: int, grace: float) -> None:
    groups: set[int] = set()
    buf = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except InterruptedError:  # pragma: no cover - PEP 475 retries already
            continue
        except OSError:
            chunk = b""
        if not chunk:
            break
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            line = line.strip()
            if len(line) < 2 or not line[1:].isdigit():
                continue
            pgid = int(line[1:])
            if pgid <= 1:
                continue
            if line[:1] == b"+":
                groups.add(pgid)
            elif line[:1] == b"-":
                groups.discard(pgid)
    if groups:
        kill_groups(groups, grace)


class Watchdog:
    """The loop's side: spawns the helper and tells it which process groups to kill."""

    def __init__(self, grace: float = DEFAULT_GRACE) -> None:
        self.grace = grace
        self.groups: set[int] = set()
        self._proc: subprocess.Popen[bytes] | None = None

    def _spawn(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-I", os.path.abspath(__file__), "--grace", str(self.grace)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True)
        for pgid in self.groups:   # a respawned helper learns the groups still running
            self._send(f"+{pgid}\n")

    def _send(self, line: str) -> bool:
        proc = self._proc
        if proc is None or proc.stdin is None:
            return False
        try:
            os.write(proc.stdin.fileno(), line.encode())
            return True
        except OSError:
            return False

    def add(self, pgid: int) -> None:
        self.groups.add(pgid)
        if self._proc is None or not self._send(f"+{pgid}\n"):
            self.restart()

    def remove(self, pgid: int) -> None:
        self.groups.discard(pgid)
        self._send(f"-{pgid}\n")

    def ensure(self) -> None:
        """Restart the helper if it died (killed by hand): running jobs stay covered."""
        if self._proc is not None and self._proc.poll() is not None:
            self.restart()

    def restart(self) -> None:
        """(Re)start the helper; it is gone if a write failed (someone killed it)."""
        self.close()
        try:
            self._spawn()
        except OSError:
            self._proc = None

    def close(self) -> None:
        """End the helper: it kills the groups still registered (none after a clean run)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=self.grace + 2)
        except subprocess.TimeoutExpired:  # pragma: no cover - the helper never hangs
            proc.kill()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    grace = DEFAULT_GRACE
    if len(args) == 2 and args[0] == "--grace":
        grace = max(0.0, float(args[1]))
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    serve(0, grace)
    return 0


if __name__ == "__main__":
    sys.exit(main())
