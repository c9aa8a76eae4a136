"""Socket.IO's heartbeat on a real server: every socket is pinged an interval after its last pong
(GIGCX_SOCKET_PING_S, from one loop per process: gigcx.realtime.pings), a socket that stops
answering is dropped, and a client that answers stays connected through many intervals."""
from __future__ import annotations

import gc
import io
import json
import time
import weakref
from typing import Any

import engineio
import pytest
import websocket

from gigcx.realtime.pings import PingSchedule
from tests.servers import Server

PING_S = 1


@pytest.fixture
def pinging(servers: Any) -> Server:
    server: Server = servers(env={"GIGCX_SOCKET_PING_S": str(PING_S)})
    return server


def _open(server: Server) -> tuple[websocket.WebSocket, dict[str, Any]]:
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket", timeout=10)
    frame = ws.recv()
    assert frame.startswith("0"), frame  # Engine.IO OPEN
    return ws, json.loads(frame[1:])


def test_every_socket_is_pinged_an_interval_after_its_pong(pinging: Server) -> None:
    sockets = [_open(pinging) for _ in range(3)]
    for _, opened in sockets:
        assert (opened["pingInterval"], opened["pingTimeout"]) == (PING_S * 1000, PING_S * 1000)
    pings: list[list[float]] = [[] for _ in sockets]
    deadline = time.monotonic() + 5.5 * PING_S
    while time.monotonic() < deadline:
        for (ws, _), times in zip(sockets, pings, strict=True):
            ws.settimeout(0.05)
            try:
                frame = ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            assert frame == "2", frame  # nothing but pings on a socket that joined no namespace
            times.append(time.monotonic())
            ws.send("3")  # pong
    for ws, _ in sockets:
        ws.close()
        ws.shutdown()
    for times in pings:
        assert len(times) >= 4, times
        gaps = [b - a for a, b in zip(times, times[1:])]
        # an interval after the pong, give or take a loaded machine's scheduling
        assert all(0.8 * PING_S <= gap <= 2.5 * PING_S for gap in gaps), gaps


def test_a_socket_that_stops_answering_is_dropped(pinging: Server) -> None:
    ws, _ = _open(pinging)
    ws.settimeout(10 * PING_S)
    started = time.monotonic()
    assert ws.recv() == "2"
    closed_in = None
    while time.monotonic() - started < 10 * PING_S:
        try:
            frame = ws.recv()
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            closed_in = time.monotonic() - started
            break
        if not frame:  # the close frame
            closed_in = time.monotonic() - started
            break
        assert frame == "2", frame  # at most the one ping: no pong, no next ping
    ws.shutdown()
    # dropped within the ping interval plus the ping timeout (and Engine.IO's check's period)
    assert closed_in is not None and closed_in <= 4 * PING_S + 2, closed_in


def test_a_socketio_client_stays_connected_through_many_intervals(pinging: Server, peers: Any) -> None:
    slug, _ = pinging.brand()
    customer = peers(pinging.url, "/customer", {"brand": slug})
    time.sleep(6 * PING_S)
    assert customer.sio.connected
    case = customer.call("ask", {"text": "where is my card", "client_id": "q1"})
    assert case["ok"] and case["case"]["id"], case


def test_a_closed_socket_is_freed_without_a_collection() -> None:
    """Adopting a socket must not make it refer to itself: a serving process freezes what
    survives its young collections (GIGCX_GC_FREEZE_S), so a socket in a reference cycle would
    stay in memory after it closed until the hourly reclaim. Once its last ping is behind it,
    dropping the server's reference must free it at once."""
    now = [0.0]
    schedule = PingSchedule(20, sleep=lambda s: None, clock=lambda: now[0])
    eio = engineio.Server(async_mode="threading")
    schedule.install(eio)
    environ = {"REQUEST_METHOD": "GET", "QUERY_STRING": "EIO=4&transport=polling", "PATH_INFO": "/engine.io/",
               "wsgi.input": io.BytesIO(), "REMOTE_ADDR": "127.0.0.1"}
    body = eio.handle_request(environ, lambda status, headers: None)
    sid = json.loads(b"".join(body).decode()[1:])["sid"]
    sock = eio.sockets[sid]
    ref = weakref.ref(sock)
    sock.last_ping = 1.0  # its pong arrived: the next ping is due in 20 s
    sock.schedule_ping()
    assert schedule.send_due() == 20
    now[0] = 20.0
    assert schedule.send_due() == 20  # sent (nothing else is due)
    assert sock.queue.get_nowait().packet_type == engineio.packet.PING
    gc.disable()
    try:
        eio.sockets.pop(sid).close(wait=False, abort=True)  # as when its transport ends
        del sock
        assert ref() is None
    finally:
        gc.enable()
