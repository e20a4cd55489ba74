"""A second process for work the fit need not wait for.

Most of a fit runs on one core (seeded UMAP's epochs, Python loops over labels), so on a
2-core machine the other core is idle. Work that is pure and independent of what the main
process does next runs here beside it: the sentence model's load (~6 s of imports) while the
main process computes the lexical vectors and reduces, and the map layout (a UMAP fit) while
it labels. Results are exactly those of the same call in the main process: the same
functions, the same seeds, the same libraries.

The process is started with `python -m taxonomy.background` (not `multiprocessing`'s spawn,
which would import the caller's own script again in the child) and talks over two pipes of
its own (a library printing to stdout cannot garble them). Calls run one at a time in order of
submission. If the process dies, calls still pending are computed in the main process.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

# Below this many papers a fit is a few seconds; a second process (~0.2 s to start, the
# model's and UMAP's imports again) would not pay for itself. From 1,000 papers on the model's
# load (~6 s) alone is as long as the reduce stage it overlaps.
MIN_PAPERS = 1_000

_LOST = (EOFError, OSError, BrokenPipeError)


class Background:
    """One helper process; `submit(func, *args)` returns a function giving func's result.
    Calls run in the order they were submitted (on 2 cores a second helper would only
    compete with the first and the main process: measured slower)."""

    def __init__(self) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "taxonomy.background", str(to_child_r), str(from_child_w)],
            pass_fds=(to_child_r, from_child_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # the protocol has its own pipes; stderr is kept
        )
        os.close(to_child_r)
        os.close(from_child_w)
        for end in (to_child_w, from_child_r):
            _widen(end)
        self._send = Connection(to_child_w, readable=False)
        self._receive = Connection(from_child_r, writable=False)
        self._sent = 0
        self._calls: dict[int, tuple[Callable[..., Any], tuple, dict]] = {}
        # Calls are sent and replies read by threads of their own: a large call waits in the
        # pipe until the helper has finished the calls before it (`submit` must not wait with
        # it), and a large call being sent while the helper sends a large reply would otherwise
        # block both processes on full pipes.
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._results: dict[int, tuple[bool, Any]] = {}
        self._arrived = threading.Condition()
        self._lost = False
        self._sender = threading.Thread(target=self._send_calls, daemon=True)
        self._reader = threading.Thread(target=self._read_replies, daemon=True)
        self._sender.start()
        self._reader.start()

    def submit(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[], Any]:
        """Start func(*args, **kwargs) in the helper (a module-level function, sent by name,
        or a picklable callable object, sent whole); the returned function waits for and
        returns its result or raises its error."""
        call_id = self._sent
        self._sent += 1
        self._calls[call_id] = (func, args, kwargs)
        self._outbox.put((call_id, func, args, kwargs))
        return lambda: self._result(call_id)

    def _send_calls(self) -> None:
        while (call := self._outbox.get()) is not None:
            try:
                self._send.send(call)
            except _LOST:
                self._mark_lost()
                return
            except Exception as exc:  # cannot be pickled (a lambda): its caller gets the error
                with self._arrived:
                    self._results[call[0]] = (False, exc)
                    self._arrived.notify_all()

    def _read_replies(self) -> None:
        while True:
            try:
                call_id, ok, value = self._receive.recv()
            except _LOST:
                self._mark_lost()
                return
            with self._arrived:
                self._results[call_id] = (ok, value)
                self._arrived.notify_all()

    def _mark_lost(self) -> None:
        with self._arrived:
            self._lost = True
            self._arrived.notify_all()

    def _result(self, call_id: int) -> Any:
        with self._arrived:
            self._arrived.wait_for(lambda: call_id in self._results or self._lost)
            reply = self._results.pop(call_id, None)
        func, args, kwargs = self._calls.pop(call_id)
        if reply is None:  # the helper died: compute it here
            return func(*args, **kwargs)
        ok, value = reply
        if not ok:
            raise value
        return value

    def close(self) -> None:
        """Stop the helper (a call still running, e.g. a model load nobody needed, is cut)."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        self._outbox.put(None)
        self._sender.join()  # a call being sent fails once the helper is gone
        self._reader.join()  # and the replies end
        self._send.close()
        self._receive.close()

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _widen(fd: int) -> None:
    """A pipe buffer of PIPE_BYTES where the system allows (Linux): a large call is then
    written in few pieces. The main process's sender thread needs the GIL for each piece,
    and a fit's main thread holds it for long stretches (UMAP's numba epochs): with 64 KB
    pieces, 20,000 papers' lexical projection (~35 MB) took 1.3 s to arrive."""
    import fcntl

    try:
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except OSError:  # over the system's limit (/proc/sys/fs/pipe-max-size) or not Linux
        pass


PIPE_BYTES = 1 << 20


def _receive_calls(receive: Connection, calls: queue.SimpleQueue) -> None:
    """The helper's reader: calls are read as they come, while the one before runs (so the
    main process's sender is never held up by a busy helper); None once the pipe closes."""
    while True:
        try:
            calls.put(receive.recv())
        except (EOFError, OSError):  # the main process closed the pipe or exited
            calls.put(None)
            return
        except BaseException:  # a call that cannot be read: said, and the helper ends (the
            traceback.print_exc()  # main process then computes what is still pending)
            calls.put(None)
            return


def _serve(receive: Connection, send: Connection) -> None:
    """The helper's loop: run each call in turn and send back (id, ok, result or error)."""
    _widen(receive.fileno())
    _widen(send.fileno())
    calls: queue.SimpleQueue = queue.SimpleQueue()
    threading.Thread(target=_receive_calls, args=(receive, calls), daemon=True).start()
    while True:
        call = calls.get()
        if call is None:
            return
        call_id, func, args, kwargs = call
        try:
            reply = (call_id, True, func(*args, **kwargs))
        except BaseException as exc:  # sent back and raised in the main process
            reply = (call_id, False, exc)
        try:
            send.send(reply)
        except (EOFError, OSError):
            return
        except Exception as exc:  # an error that cannot be pickled is sent as its text
            send.send((call_id, False, RuntimeError(f"{type(exc).__name__}: {exc}")))


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    _serve(
        Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False)
    )
