"""Events leave the training thread through a bounded deque drained by one daemon thread.

The training thread only ever calls `Outbox.put`, which never blocks: when the deque is full the item is
dropped and counted. The sender thread batches what is queued and POSTs it (`{"events": [...]}` to
`<server>/api/v1/events`, Bearer token) or appends JSON lines to a file. While the server is unreachable the batch
is kept and retried with back-off; events beyond the buffer are dropped and counted, and a `run-telemetry-dropped`
event tells the server how many once it is reachable again.
"""

import collections
import json
import os
import threading
import time
import urllib.error
import urllib.request


class FileSink:
    """Appends one JSON line per event (what `trainguard agent ship` reads). Sinks get events as JSON texts."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self.describe = "file " + self.path

    def send(self, events):
        text = "".join(e + "\n" for e in events)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(text)


class HttpSink:
    """POSTs batches to the server's event endpoint with a Bearer token."""

    def __init__(self, server, token, timeout=5.0):
        base = server.rstrip("/")
        if not (base.startswith("https://") or _is_local_http(base)):
            raise ValueError("TrainGuard server %r: use https:// (plain http only to this machine)" % server)
        self.url = base + "/api/v1/events"
        self.token = token
        self.timeout = timeout
        self.describe = "server " + base

    def send(self, events):
        """None when every event was stored; (count, reason) for events the server did not store.

        Raises BatchRefused when the server refused the whole batch for what it holds (a 4xx other than 408/429:
        sending it again cannot help), any other exception when it should be retried.
        """
        body = ('{"events":[' + ",".join(events) + "]}").encode("utf-8")
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json",
            "Authorization": "Bearer " + self.token,
        })
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - https or loopback only
                answer = response.read()
        except urllib.error.HTTPError as error:
            if 400 <= error.code < 500 and error.code not in (408, 429):
                raise BatchRefused("HTTP %d: %s" % (error.code, _problem(error.read()))) from None
            raise
        return _not_stored(answer)


class BatchRefused(Exception):
    """The server refused a whole batch (invalid events, a token it does not accept): the batch is dropped."""


def _problem(body):
    try:
        detail = json.loads(body.decode("utf-8"))
        return str(detail.get("detail") or detail.get("title") or detail)[:500]
    except (ValueError, UnicodeDecodeError, AttributeError):
        return body[:200].decode("utf-8", "replace")


def _not_stored(body):
    """(count, first reason) of the events a 200/207 answer says were refused, or None."""
    try:
        answer = json.loads(body.decode("utf-8"))
        refused = [r for r in answer.get("results", []) if r.get("status") == "refused"]
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    if not refused:
        return None
    return len(refused), "not stored: %s" % str(refused[0].get("reason"))[:500]


def _is_local_http(base):
    for prefix in ("http://127.0.0.1", "http://localhost", "http://[::1]"):
        if base == prefix or base.startswith(prefix + ":") or base.startswith(prefix + "/"):
            return True
    return False


class Outbox:
    """A bounded deque the training thread appends to (never blocks) and a sender thread drains."""

    def __init__(self, factory, build, sink, capacity=10_000, buffer=50_000, batch=500, interval=0.25, retry_max=30.0):
        self.factory = factory
        self._build = build
        self.sink = sink
        self._items = collections.deque()
        self._capacity = capacity
        self._buffer = buffer
        self._batch = batch
        self._interval = interval
        self._retry_max = retry_max
        self._pending = collections.deque()
        self.dropped = 0
        self.refused = 0  # events the server answered it did not store
        self.sent = 0
        self.last_error = None
        self._reported = 0
        self._final_report = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._busy = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="trainguard-client-sender", daemon=True)
        self._thread.start()

    def put(self, item):
        if len(self._items) < self._capacity:
            self._items.append(item)
        else:
            self.dropped += 1

    @property
    def buffered(self):
        return len(self._items) + len(self._pending)

    def flush(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            self._wake.set()
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._busy.acquire(timeout=remaining):
                return False
            try:
                if not self._items and not self._pending:
                    return True
            finally:
                self._busy.release()
            time.sleep(0.01)

    def close(self, timeout=5.0):
        self._final_report = True  # counts that changed since the last report go out once more
        done = self.flush(timeout)
        self._stop.set()
        self._wake.set()
        self._thread.join(min(1.0, timeout))
        return done

    def _run(self):
        backoff = 0.0
        while not self._stop.is_set():
            self._wake.wait(backoff or self._interval)
            self._wake.clear()
            with self._busy:
                backoff = self._send_all(backoff)

    def _send_all(self, backoff):
        self._take()
        while True:
            # A report rides with other events (or goes alone when closing), so a server refusing everything
            # does not make an endless stream of reports about refused reports.
            if self.dropped + self.refused > self._reported and (self._pending or self._final_report):
                self._final_report = False
                self._reported = self.dropped + self.refused
                self._pending.appendleft(self._build(self.factory, ("run-telemetry-dropped", time.time(), {"trainguard.client": {
                    "dropped": self.dropped, "refused": self.refused, "buffered": len(self._pending),
                    "last_error": self.last_error}}, "event", None)))
            if not self._pending:
                return 0.0
            batch = [self._pending[i] for i in range(min(self._batch, len(self._pending)))]
            try:
                not_stored = self.sink.send(batch)
            except BatchRefused as error:
                not_stored = (len(batch), "batch refused: %s" % error)
            except Exception as error:  # noqa: BLE001 - a failure only delays telemetry, never training
                self.last_error = "%s: %s" % (type(error).__name__, error)
                return min(self._retry_max, max(0.2, backoff * 2))
            for _ in batch:
                self._pending.popleft()
            self.sent += len(batch)
            if not_stored:
                self.refused += not_stored[0]
                self.last_error = not_stored[1]
            self._take()

    def _take(self):
        while self._items:
            item = self._items.popleft()
            try:
                self._pending.append(self._build(self.factory, item))
            except Exception as error:  # noqa: BLE001
                self.dropped += 1
                self.last_error = "event: %s: %s" % (type(error).__name__, error)
        overflow = len(self._pending) - self._buffer
        for _ in range(max(0, overflow)):
            self._pending.popleft()
            self.dropped += 1


