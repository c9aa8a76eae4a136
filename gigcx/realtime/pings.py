"""Engine.IO's heartbeat pings from one loop per process instead of a greenlet per ping per socket.

Engine.IO (python-engineio 4) schedules each socket's next ping by starting a background task
that sleeps through the ping interval and then sends it: with gevent a greenlet, its timer, its
waiter and its frame, made again for every socket every interval and alive for the whole of it.
At a thousand connected customers that is ~50 greenlets a second that all survive a young
collection, the largest repeated source of the objects a generation-1 collection walks
(docs/benchmarks.md, "The window at a fixed offset is the collector").

`PingSchedule` keeps the same protocol with plain values: a socket whose pong arrived is put at
the end of a queue with the time its ping is due, and one loop sends the pings that are due and
sleeps until the next. The interval is the same for every socket, so the queue is already in due
order. Engine.IO's own service task still closes a socket whose pong is late, as before.
"""
from __future__ import annotations

import logging
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from engineio import packet as eio_packet

log = logging.getLogger(__name__)


class PingSchedule:
    """Sends the pings of every socket it adopted, from `run`."""

    def __init__(self, interval_s: float, sleep: Callable[[float], Any], clock: Callable[[], float] = time.monotonic):
        self.interval_s = interval_s
        self._sleep, self._clock = sleep, clock
        self._due: deque[tuple[float, Any]] = deque()  # (when, engineio socket), in order of `when`

    def install(self, eio: Any) -> None:
        """Adopt every socket `eio` (an engineio.Server) accepts from now on. Engine.IO calls its
        `connect` handler between creating the socket and scheduling its first ping."""
        accept = eio.handlers.get("connect")

        def connect(eio_sid: str, environ: dict[str, Any], *args: Any) -> Any:
            ret = accept(eio_sid, environ, *args) if accept else None
            sock = eio.sockets.get(eio_sid)
            if sock is not None and (ret is None or ret is True):
                # through a weak reference: a socket that refers to itself is freed only by a
                # collection, and one frozen meanwhile (GIGCX_GC_FREEZE_S) only by the reclaim
                ref = weakref.ref(sock)
                sock.schedule_ping = lambda: self._schedule_ref(ref)
            return ret

        eio.on("connect", connect)

    def schedule(self, sock: Any) -> None:
        """Engine.IO's `Socket.schedule_ping`: once per answered ping (a pong), the next is due an
        interval from now."""
        if sock.last_ping:
            sock.last_ping = None
            self._due.append((self._clock() + self.interval_s, sock))

    def _schedule_ref(self, ref: weakref.ref[Any]) -> None:
        sock = ref()
        if sock is not None:
            self.schedule(sock)

    def send_due(self) -> float:
        """Send every ping that is due; return the seconds until the next one (an interval when
        none is scheduled)."""
        now = self._clock()
        due = self._due
        while due and due[0][0] <= now:
            _, sock = due.popleft()
            if not sock.closing and not sock.closed:  # as Engine.IO's own ping task checks
                sock.last_ping = time.time()  # Engine.IO compares it with time.time()
                try:
                    sock.send(eio_packet.Packet(eio_packet.PING))
                except Exception:  # a socket closing under us: Engine.IO cleans it up
                    log.debug("ping not sent", exc_info=True)
        return due[0][0] - now if due else self.interval_s

    def run(self) -> None:
        while True:
            try:
                wait = self.send_due()
            except Exception:  # never fatal: every socket's heartbeat depends on this loop
                log.exception("sending pings failed; retrying")
                wait = 1.0
            self._sleep(max(wait, 0.01))
