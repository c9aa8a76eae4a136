"""The chat message path in one process: its lighter per-event Flask context and its Core unit of
work keep what the full ones gave (docs/benchmarks.md, "The message path")."""
from __future__ import annotations

import functools
from typing import Any

import flask
import pytest
from flask.ctx import RequestContext

from gigcx.events import Outbox
from gigcx.extensions import EventContext, socketio
from gigcx.realtime.customer import namespace as customer_namespace
from tests.conftest import Api
from tests.realtime.test_conversation_start import _ask, _brand, _expert


def _conversation(app: Any, api: Api) -> tuple[Any, Any, int]:
    key = _brand(api)
    _, _, expert = _expert(app, api, key, 1)
    customer, case = _ask(app)
    assert expert.emit("accept", {"case_id": case["id"]}, namespace="/expert", callback=True)["ok"]
    return customer, expert, case["id"]


def _arg(event: dict[str, Any]) -> Any:
    """A received event's payload (the test client keeps one argument as a list or bare)."""
    args = event["args"]
    return args[0] if isinstance(args, list) else args


def test_event_context_sets_what_a_request_context_does(app: Any) -> None:
    """EventContext copies RequestContext.__init__ without the URL adapter: a Flask upgrade that
    changes those attributes must fail here, not in production."""
    with app.test_request_context("/socket.io/"):
        environ = flask.request.environ
        full = RequestContext(app, environ)
        lean = EventContext(app, environ, flask.session)
    assert set(vars(lean)) == set(vars(full))
    assert lean.url_adapter is None and lean.request is not full.request


def test_events_after_connect_see_their_socket_and_session(app: Any, api: Api, monkeypatch: Any) -> None:
    """Each event has a request of its own naming its socket, the connection's saved session, and
    the app context (what handlers read through `flask.request`, `flask.session`, `current_app`)."""
    _brand(api)
    seen: list[tuple[Any, ...]] = []
    original = type(customer_namespace).on_sync

    def spy(self: Any, data: Any) -> Any:
        seen.append((flask.request.sid, flask.request.namespace, type(flask.globals.request_ctx._get_current_object()),
                     flask.request._get_current_object(), flask.session._get_current_object(), flask.current_app.name))
        return original(self, data)

    functools.update_wrapper(spy, original)  # keeps its declared roles
    monkeypatch.setattr(type(customer_namespace), "on_sync", spy)
    a, case = _ask(app, client_id="qa")
    b = socketio.test_client(app, namespace="/customer", auth={"brand": "acme"})
    for client in (a, a, b):
        client.emit("sync", {"case_id": case["id"]}, namespace="/customer", callback=True)
    sid_a, sid_b = a.eio_sid, b.eio_sid
    server = socketio.server
    assert [s[0] for s in seen] == [server.manager.sid_from_eio_sid(sid_a, "/customer")] * 2 + [
        server.manager.sid_from_eio_sid(sid_b, "/customer")]
    assert all(s[1] == "/customer" and s[2] is EventContext and s[5] == app.name for s in seen)
    assert len({id(s[3]) for s in seen}) == 3  # a request object per event (all held by `seen`)
    assert seen[0][4] is seen[1][4]  # the connection's saved session, the same for its events


def test_a_message_whose_transaction_fails_is_neither_stored_nor_sent(app: Any, api: Api, monkeypatch: Any) -> None:
    customer, expert, case_id = _conversation(app, api)
    customer.get_received("/customer")
    expert.get_received("/expert")

    def broken(self: Outbox, case: Any, msg: Any) -> None:
        raise RuntimeError("after the insert, before the commit")

    monkeypatch.setattr(Outbox, "message_posted", broken)
    ack = customer.emit("message", {"case_id": case_id, "text": "lost?", "client_id": "m1"},
                        namespace="/customer", callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "internal"
    monkeypatch.undo()
    assert not [e for e in expert.get_received("/expert") if e["name"] == "message"]
    synced = customer.emit("sync", {"case_id": case_id}, namespace="/customer", callback=True)
    texts = [m["text"] for m in synced["messages"]]
    assert "lost?" not in texts and synced["case"]["last_seq"] == len(texts)
    # the resend is stored once, with the next seq (the failed one left no gap)
    first = customer.emit("message", {"case_id": case_id, "text": "lost?", "client_id": "m1"},
                          namespace="/customer", callback=True)
    again = customer.emit("message", {"case_id": case_id, "text": "lost?", "client_id": "m1"},
                          namespace="/customer", callback=True)
    assert first["ok"] and again["ok"] and first["message"] == again["message"]
    assert first["message"]["seq"] == synced["case"]["last_seq"] + 1


def test_an_expert_gets_customer_messages_masked_and_own_ones_as_sent(app: Any, api: Api) -> None:
    customer, expert, case_id = _conversation(app, api)
    expert.get_received("/expert")
    customer.get_received("/customer")
    ack = customer.emit("message", {"case_id": case_id, "text": "mail me at jane@example.com", "client_id": "c1"},
                        namespace="/customer", callback=True)
    assert ack["ok"] and "jane@example.com" in ack["message"]["text"]
    got = [_arg(e) for e in expert.get_received("/expert") if e["name"] == "message"]
    assert len(got) == 1 and "jane@example.com" not in got[0]["text"]
    ack = expert.emit("message", {"case_id": case_id, "text": "write to help@example.com", "client_id": "e1"},
                      namespace="/expert", callback=True)
    assert ack["ok"]
    got = [_arg(e) for e in customer.get_received("/customer") if e["name"] == "message"]
    assert got[-1] == ack["message"]  # (after the customer's own message)
    got = [_arg(e) for e in expert.get_received("/expert") if e["name"] == "message"]
    assert got == [ack["message"]]  # an expert's own message is not masked


def test_emit_rooms_sends_what_emit_sends(app: Any, api: Api, monkeypatch: Any) -> None:
    """The outbox's `emit_rooms` (each payload encoded once, empty rooms skipped) sends each socket
    the same packets, in the same order, as a `socketio.emit` per item."""
    customer, expert, case_id = _conversation(app, api)
    server = socketio.server
    sent: list[tuple[str, Any]] = []
    monkeypatch.setattr(server, "_send_eio_packet", lambda eio_sid, pkt: sent.append((eio_sid, pkt.encode())))
    cust_room = next(r for r in server.manager.rooms["/customer"] if str(r).startswith("customer:"))
    exp_room = next(r for r in server.manager.rooms["/expert"] if str(r).startswith("expert:"))
    shared = {"case_id": case_id, "text": "caf\u00e9 \"quoted\"", "n": [1, None, True]}
    items = [("message", shared, "/customer", cust_room), ("message", {"masked": "x"}, "/expert", exp_room),
             ("message", shared, "/brand", "brand:999999"), ("case", shared, "/customer", cust_room),
             ("message", shared, "/expert", exp_room), ("message", shared, "/nobody", "x")]
    for event, payload, namespace, room in items:
        socketio.emit(event, payload, namespace=namespace, to=room)
    one_by_one, sent[:] = list(sent), []
    socketio.emit_rooms(items)
    assert sent == one_by_one and len(sent) == 4
    # a payload JSON cannot encode takes emit's own path (binary packets)
    sent[:] = []
    socketio.emit_rooms([("message", {"blob": b"\x00\x01"}, "/customer", cust_room)])
    assert len(sent) == 2  # the placeholder packet and its attachment


@pytest.mark.parametrize("entry", ["post_message", "send_message"])
def test_post_message_stores_gap_free_and_refuses_as_before(app: Any, api: Api, entry: str) -> None:
    """post_message's one-statement path and its checked fallback, and send_message (on SQLite the
    driver's connection, falling back to post_message): who may write when, what a refusal says,
    resends, seqs with no gap, the expert's first response stamped once."""
    from datetime import timedelta
    from types import SimpleNamespace

    from sqlalchemy import update
    from sqlmodel import Session

    from gigcx.errors import ApiError
    from gigcx.models import Case, Offer, utcnow
    from gigcx.services import cases
    from gigcx.services.cases import Actor
    from gigcx.uow import transact_core

    customer, expert, case_id = _conversation(app, api)
    engine = app.extensions["gigcx_engine"]
    with Session(engine) as s:
        case = s.get(Case, case_id)
        assert case is not None and case.expert_id is not None
        cust, exp, brand, seq0 = case.customer_id, case.expert_id, case.brand_id, case.last_seq
    other_expert, _ = api.expert(email="other@example.com")
    with Session(engine) as s:  # another expert was offered the case and did not accept
        s.add(Offer(case_id=case_id, expert_id=other_expert, expires_at=utcnow() + timedelta(minutes=5)))
        s.commit()

    def post(actor: Actor, client_id: str, cid: int = case_id) -> Any:
        if entry == "send_message":
            return SimpleNamespace(**cases.send_message(engine, actor, case_id=cid, text="hi", client_id=client_id))
        return transact_core(lambda c, o: cases.post_message(c, o, actor, case_id=cid, text="hi",
                                                             client_id=client_id), engine)

    def refused(actor: Actor, client_id: str, cid: int = case_id) -> str:
        try:
            post(actor, client_id, cid)
        except ApiError as exc:
            return exc.code
        raise AssertionError("stored")

    def case_row() -> Case:
        with Session(engine) as s:
            row = s.get(Case, case_id)
            assert row is not None
            return row

    c_actor, e_actor, staff = Actor("customer", cust), Actor("expert", exp), Actor("staff", 7, brand)
    assert refused(Actor("customer", cust + 1000), "x") == "not_found"
    assert refused(c_actor, "x", case_id + 1000) == "not_found"
    assert refused(Actor("expert", other_expert), "x") == "forbidden"
    assert refused(Actor("staff", 7, brand + 1000), "x") == "not_found"
    assert refused(staff, "x") == "conflict"
    assert case_row().first_response_at is None and case_row().last_seq == seq0  # refusals wrote nothing
    first = post(c_actor, "c1")
    answer = post(e_actor, "e1")
    stamped = case_row().first_response_at
    assert stamped is not None
    again = post(e_actor, "e1")  # a resend answers with what was stored
    assert (first.seq, answer.seq) == (seq0 + 1, seq0 + 2) and again.id == answer.id and again.seq == answer.seq
    post(e_actor, "e2")
    assert case_row().first_response_at == stamped and case_row().last_seq == seq0 + 3
    with engine.begin() as conn:
        conn.execute(update(Case).where(Case.id == case_id).values(status="escalated", escalated_at=utcnow()))
    assert refused(e_actor, "e3") == "not_found"  # the expert who escalated left the conversation
    assert post(staff, "s1").seq == seq0 + 4 and post(c_actor, "c2").seq == seq0 + 5
    with engine.begin() as conn:
        conn.execute(update(Case).where(Case.id == case_id).values(status="closed"))
    assert refused(c_actor, "c3") == "case_closed"
    assert post(c_actor, "c1").id == first.id  # a resend still answers, even once closed
    assert case_row().last_seq == seq0 + 5


def test_a_driver_statement_stores_and_returns_what_sqlalchemy_does(app: Any, api: Api) -> None:
    """DriverStatement (the driver's own connection) sends the statement's own SQL with its
    parameters processed by the same types: the rows stored and the rows returned are the same as
    through SQLAlchemy, datetimes included."""
    from sqlalchemy import select

    from gigcx.db import DriverStatement
    from gigcx.models import Case, utcnow
    from gigcx.services.cases import _INSERT_MSG, _MSG, _MSG_INSERT_KEYS, _fast_post
    from gigcx.uow import transact_driver

    engine = app.extensions["gigcx_engine"]
    postgres = engine.dialect.name == "postgresql"
    customer, expert, case_id = _conversation(app, api)
    with engine.connect() as conn:
        case = conn.execute(select(Case.customer_id, Case.last_seq).where(Case.id == case_id)).one()
    now = utcnow()
    row = {"case_id": case_id, "sender": "customer", "sender_id": case.customer_id, "text": "caf\u00e9",
           "sent_at": now}
    with engine.begin() as conn:  # (seqs apart from the case's next ones, which the bump below takes)
        through_sa = conn.execute(_INSERT_MSG, {**row, "seq": case.last_seq + 100, "client_id": "sa"}).one()
    insert_msg = DriverStatement(_INSERT_MSG, engine.dialect, _MSG_INSERT_KEYS)
    through_driver = transact_driver(lambda dbc, o: insert_msg.first(
        dbc, {**row, "seq": case.last_seq + 101, "client_id": "drv"}), engine)
    assert through_driver._fields == tuple(through_sa._mapping.keys())
    differ = {"id", "seq", "client_id"}
    assert {k: v for k, v in through_driver._asdict().items() if k not in differ} == \
        {k: v for k, v in through_sa._mapping.items() if k not in differ}
    with engine.connect() as conn:  # stored alike, to the text of the timestamp
        raw = conn.exec_driver_sql("SELECT client_id, CAST(sent_at AS TEXT), text FROM message "
                                   "WHERE client_id IN ('sa', 'drv') ORDER BY client_id").all()
        assert raw[0][1:] == raw[1][1:]
        stored = conn.execute(select(_MSG).where(_MSG.c.client_id.in_(["sa", "drv"])).order_by(_MSG.c.seq)).all()
    assert [r.sent_at for r in stored] == [through_sa.sent_at, through_driver.sent_at]
    # a statement's constants (the statuses it compares to) are sent as SQLAlchemy sends them
    bump = DriverStatement(_fast_post(postgres, "customer"), engine.dialect)
    keys = {"b_case": case_id, "b_sender": "customer", "b_sender_id": case.customer_id, "b_client": "new",
            "b_actor": case.customer_id, "b_brand": None, "b_now": now}
    if postgres:  # the message is inserted in the same statement
        keys.update({f"v_{k}": v for k, v in row.items()}, v_client_id="new")
    got = transact_driver(lambda dbc, o: bump.first(dbc, keys), engine)
    assert got is not None and got.last_seq if not postgres else got.seq == case.last_seq + 1
    assert got.status == "active" and got.customer_id == case.customer_id
    keys["b_client"] = "drv"  # already stored: the UPDATE matches nothing, and nothing is written
    if postgres:
        keys["v_client_id"] = "drv"
    assert transact_driver(lambda dbc, o: bump.first(dbc, keys), engine) is None
    with engine.connect() as conn:
        assert conn.execute(select(Case.last_seq).where(Case.id == case_id)).scalar_one() == case.last_seq + 1


def test_a_failed_driver_transaction_rolls_back_and_sends_nothing(app: Any, api: Api, monkeypatch: Any) -> None:
    from sqlalchemy import func, select

    from gigcx.models import Message
    from gigcx.services import cases
    from gigcx.services.cases import Actor

    engine = app.extensions["gigcx_engine"]
    customer, expert, case_id = _conversation(app, api)
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(Message)).scalar_one()
        cust = conn.execute(select(Message.sender_id).where(Message.case_id == case_id)).scalars().first()
    sent: list[Any] = []
    monkeypatch.setattr(Outbox, "flush", lambda self: sent.extend(self.items))

    def broken(self: Outbox, case: Any, msg: Any) -> None:
        raise RuntimeError("after the insert, before the commit")

    monkeypatch.setattr(Outbox, "message_posted", broken)
    with pytest.raises(RuntimeError):
        cases.send_message(engine, Actor("customer", cust), case_id=case_id, text="x", client_id="z")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Message)).scalar_one() == before
    assert sent == []
    # the pool's connection is usable again, with no transaction left open
    monkeypatch.undo()
    monkeypatch.setattr(Outbox, "flush", lambda self: sent.extend(self.items))
    assert cases.send_message(engine, Actor("customer", cust), case_id=case_id, text="x", client_id="z")["text"] == "x"
    assert [e for e, *_ in sent].count("message") >= 2
