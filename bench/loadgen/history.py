"""A brand's past: N finished cases written straight into the database, in bulk.

Driving 20,000 conversations through the socket protocol would take hours; this writes the rows
the product would have left behind, with its own tables (Core inserts of its models' tables) and
its own builders where there are any (`payouts` transactions for the ledger, `gigcx.scrub` for
reusable answers, `trust.refresh_quality` for the quality scores):

* customers: one per ~8 cases (returning customers), each case from one of them;
* cases over the past `days`, oldest first (ids grow with time as they would), questions from the
  shipped BANKING77 subset of each topic, assigned to the topic's approved experts with a skewed
  spread (some experts far busier than others):
  85 % resolved (70 % of those confirmed by the customer, the rest by silence), 10 % escalated
  and closed by staff, 5 % deflected by a suggested answer (no expert);
* per case: the accepted offer, 4-7 messages (question, expert answers, customer follow-up,
  system notices) with gap-free seqs, and the timers the lifecycle leaves (cancelled or fired;
  review windows still open stay pending);
* ratings (CSAT, sometimes NPS and a comment) for 40 % of finished cases with an expert;
* the ledger: `reward:case:N` (budget -> pending) per rewarded case, and `release:case:N`
  (pending -> available) once its review window is over, as `earnings.credit_resolved_case` and
  the review timer post them;
* reusable answers for customer-confirmed cases (scrubbed as `answers.record` does; 10 %
  approved, 2 % rejected by staff, the rest pending);
* expert quality per (expert, topic) recomputed by the product from those ratings.

Works on SQLite and PostgreSQL (ids come back from INSERT ... RETURNING, so sequences stay right).
"""
from __future__ import annotations

import dataclasses
import hashlib
import random
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

#: The bench brand's topics when it has a history: its live topic (`cards`, what the load's
#: questions are about) and six more of the shipped BANKING77 subset, (slug, intent, reward).
TOPICS = [("cards", "card_arrival", 100), ("exchange-rate", "exchange_rate", 150),
          ("top-up", "top_up_failed", 150), ("refunds", "request_refund", 200),
          ("pin", "pin_blocked", 100), ("transfers", "transfer_not_received_by_recipient", 250),
          ("closing", "terminate_account", 100)]
#: How often each topic comes up in the history (cards the most).
TOPIC_WEIGHTS = [30, 12, 14, 14, 10, 14, 6]

ANSWERS = {
    "cards": ["Cards are posted within 2 working days and usually arrive within 5 to 7 working days. "
              "You can follow the delivery in the app under Card > Track delivery, and if it has not "
              "arrived after 10 working days we send a free replacement.",
              "If the card has not arrived yet, open Card > Track delivery in the app: it shows when it was "
              "posted. After 10 working days you can freeze the old card and order a replacement at no cost.",
              "Deliveries abroad can take up to 3 weeks. Check that your address in Settings > Personal "
              "details is right; if it was wrong, freeze the card and order a new one to the correct address."],
    "exchange-rate": ["We use the interbank rate at the moment of the payment, with no markup on weekdays and "
                      "a 0.5% markup at weekends when markets are closed. The rate shown in the app before you "
                      "pay is the one you get.",
                      "The exchange rate applied is the one shown in the transaction details in the app. Card "
                      "payments in another currency are converted at the rate of the day they settle."],
    "top-up": ["A top-up can fail when the bank card is not in your name, is a prepaid card, or the issuing "
               "bank blocks it. Try another card in your name, or a bank transfer, which always works.",
               "Top-ups by card need 3D Secure: make sure your bank's app approved the payment. If it still "
               "fails, the money is never taken; any pending amount disappears within 3 working days."],
    "refunds": ["Refunds are sent by the merchant: once they do, it takes up to 5 working days to appear. If the "
                "merchant refuses, you can open a dispute from the transaction in the app.",
                "You can ask the merchant for the refund first. If they do not answer within 15 days, open the "
                "payment in the app and choose Report an issue > Request a refund, and we take it from there."],
    "pin": ["After three wrong PINs the card blocks the PIN for your security. You can unblock it at any of our "
            "partner ATMs with Card > Unblock PIN in the app, then use the right PIN once.",
            "Your PIN is blocked after too many attempts. Go to Card > Show PIN in the app to see it, then "
            "unblock it at an ATM: choose PIN services > Unblock."],
    "transfers": ["Transfers to other banks take up to 1 working day, and up to 5 for international ones. The "
                  "app shows the transfer reference: your recipient's bank can look it up with that.",
                  "If the transfer shows as completed, the money has left us; ask the recipient's bank to "
                  "check with the reference from the transfer details. If it is still pending, it is being "
                  "checked and usually clears within 24 hours."],
    "closing": ["You can close the account in Settings > Close account once the balance is zero and no "
                "payment is pending. We send a confirmation and keep the statements available for 5 years.",
                "Before closing, move the remaining balance out and cancel any subscriptions on the card. Then "
                "go to Settings > Close account; it takes effect at once."],
}
GREETINGS = ["Hi, thanks for asking, let me check that for you.", "Hello! Happy to help with this.",
             "Hi there, I can help.", "Thanks for waiting, here is what to do."]
FOLLOW_UPS = ["Thanks, and how long does that usually take?", "ok, what should I do if that does not work?",
              "I see. Is there a fee for that?", "Right, I tried that already yesterday."]
CLOSINGS = ["Thank you, that solved it!", "Great, thanks a lot.", "ok it worked"]
SOLVED = "The expert marked this question as solved."
HANDOVER = ("This question was handed to the brand's support team. They will answer here.")
STAFF = "Sorry for the wait: we have looked into your account and fixed it on our side."
CHUNK = 500  # cases per transaction (a server sharing the SQLite file waits for each)


def _table(model: Any) -> sa.Table:
    from gigcx.models.base import table_of

    return table_of(model)


def _insert_ids(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows and return their ids in order (INSERT ... RETURNING, batched)."""
    if not rows:
        return []
    stmt = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return [r[0] for r in conn.execute(stmt, rows)]


def _insert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(sa.insert(table), rows)


def seed_history(database_url: str, slug: str, n: int, *, days: int = 180, seed: int = 1) -> dict[str, Any]:
    """Give the brand `slug` `n` finished cases over the past `days`; returns counts and seconds."""
    from gigcx.db import make_engine
    from gigcx.demo import banking77_topics
    from gigcx.models import (
        Brand,
        Case,
        Customer,
        ExpertProgram,
        LedgerEntry,
        LedgerTransaction,
        Message,
        Offer,
        Rating,
        ReusableAnswer,
        Timer,
        Topic,
    )
    from gigcx.scrub import reusable_answer

    start = time.monotonic()
    rng = random.Random(seed)
    engine = make_engine(database_url)
    t_case, t_msg, t_offer, t_timer = _table(Case), _table(Message), _table(Offer), _table(Timer)
    t_rating, t_cust, t_answer = _table(Rating), _table(Customer), _table(ReusableAnswer)
    t_tx, t_entry = _table(LedgerTransaction), _table(LedgerEntry)
    counts: dict[str, int] = defaultdict(int)
    try:
        with engine.connect() as conn:
            brand = conn.execute(sa.select(_table(Brand)).where(_table(Brand).c.slug == slug)).one()
            topic_rows = conn.execute(sa.select(_table(Topic).c.slug, _table(Topic).c.reward_cents)
                                      .where(_table(Topic).c.brand_id == brand.id)).all()
            programs = conn.execute(sa.select(_table(ExpertProgram).c.expert_id, _table(ExpertProgram).c.topics)
                                    .where(_table(ExpertProgram).c.brand_id == brand.id,
                                           _table(ExpertProgram).c.status == "approved")).all()
        rewards = dict(topic_rows)
        intents = {s: i for s, i, _ in TOPICS}
        live = [(s, w) for (s, _, _), w in zip(TOPICS, TOPIC_WEIGHTS) if s in rewards] or [(next(iter(rewards)), 1)]
        topics, weights = [s for s, _ in live], [w for _, w in live]
        bank = banking77_topics(20)
        questions = {s: bank.get(intents.get(s, ""), []) or ["where is my card"] for s in topics}
        experts_of: dict[str, list[int]] = {s: sorted(e for e, ts in programs if s in (ts or [])) for s in topics}
        # a skewed spread: the busiest experts of a topic take several times the cases of the quietest
        skew = {s: [1.0 / (1 + 0.08 * i) for i in range(len(es))] for s, es in experts_of.items()}
        for s in topics:
            rng.shuffle(experts_of[s])
        words = [brand.name, brand.slug]  # answers.vocabulary without a session: topic slugs and names
        words += topics
        scrubbed: dict[tuple[str, ...], str] = {}

        def scrub(text: str, asker: list[str]) -> str:
            key = (text, *asker)
            if key not in scrubbed:
                scrubbed[key] = reusable_answer(text, asker, words)
            return scrubbed[key]

        now = datetime.now(UTC)
        first = now - timedelta(days=days)
        n_customers = max(1, n // 8)
        with engine.begin() as conn:
            customers = _insert_ids(conn, t_cust, [
                {"brand_id": brand.id, "token_hash": hashlib.sha256(f"history-{slug}-{seed}-{i}".encode()).hexdigest(),
                 "language": "en", "created_at": first, "external_id": None, "anonymised_at": None}
                for i in range(n_customers)])
        counts["customers"] = len(customers)
        times = sorted(first + timedelta(seconds=rng.uniform(0, days * 86400 - 3600)) for _ in range(n))
        review_s = brand.review_window_s
        for lo in range(0, n, CHUNK):
            _write_chunk(engine, rng, times[lo:lo + CHUNK], lo, locals())
        # quality scores from the ratings, as the product computes them after each rating
        from sqlmodel import Session

        from gigcx.services import trust
        with Session(engine) as session:
            brand_obj = session.get(Brand, brand.id)
            assert brand_obj is not None
            rated = session.exec(sa.select(t_rating.c.expert_id, t_case.c.topic).distinct()  # type: ignore[call-overload]
                                 .join(t_case, t_case.c.id == t_rating.c.case_id)
                                 .where(t_case.c.brand_id == brand.id, t_case.c.escalated_at.is_(None))).all()
            trust.recount_topic_ratings(session, brand.id)  # the topics' running totals (`trust.topic_norm`)
            session.commit()
            for i, (expert_id, topic) in enumerate(rated, 1):
                trust.refresh_quality(session, brand_obj, expert_id, topic)
                if i % 20 == 0:  # short write transactions: a server on this SQLite file waits for each
                    session.commit()
            session.commit()
        counts["quality_rows"] = len(rated)
        if engine.dialect.name == "postgresql":  # what autovacuum would have done over the months
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE customer, support_case, message, offer, timer, rating, "
                                     "reusableanswer, ledgertransaction, ledgerentry, expertquality")
        with engine.connect() as conn:
            for name, table in (("cases", t_case), ("messages", t_msg), ("offers", t_offer), ("timers", t_timer),
                                ("ratings", t_rating), ("answers", t_answer), ("ledger_transactions", t_tx),
                                ("ledger_entries", t_entry)):
                counts[name] = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    finally:
        engine.dispose()
    return {**counts, "seconds": round(time.monotonic() - start, 1)}


def _write_chunk(engine: sa.Engine, rng: random.Random, times: list[datetime], offset: int,
                 ctx: dict[str, Any]) -> None:
    """One transaction: the cases created at `times`, and everything that hangs off them."""
    import payouts
    from gigcx.models import AnswerStatus, CaseStatus, OfferStatus, TimerKind

    brand, topics, weights = ctx["brand"], ctx["topics"], ctx["weights"]
    questions, experts_of, skew, rewards = ctx["questions"], ctx["experts_of"], ctx["skew"], ctx["rewards"]
    customers, now, review_s, scrub = ctx["customers"], ctx["now"], ctx["review_s"], ctx["scrub"]
    t_case, t_msg, t_offer, t_timer = ctx["t_case"], ctx["t_msg"], ctx["t_offer"], ctx["t_timer"]
    t_rating, t_answer, t_tx, t_entry = ctx["t_rating"], ctx["t_answer"], ctx["t_tx"], ctx["t_entry"]
    currency = brand.currency.lower()

    plans: list[dict[str, Any]] = []
    for i, created in enumerate(times):
        topic = rng.choices(topics, weights)[0]
        roll = rng.random()
        kind = "resolved" if roll < 0.85 else "escalated" if roll < 0.95 else "deflected"
        pool = experts_of[topic]
        expert = rng.choices(pool, skew[topic])[0] if pool and kind != "deflected" else None
        if expert is None and kind != "deflected":
            kind = "deflected"
        question = rng.choice(questions[topic])
        assigned = created + timedelta(seconds=rng.uniform(5, 240)) if expert else None
        first_resp = assigned + timedelta(seconds=rng.uniform(5, 180)) if assigned else None
        p = {"topic": topic, "kind": kind, "expert": expert, "question": question, "created": created,
             "assigned": assigned, "first_response": first_resp,
             "customer": customers[(offset + i) * 7919 % len(customers)],
             "answer": rng.choice(ANSWERS.get(topic, ANSWERS["cards"])), "greeting": rng.choice(GREETINGS),
             "follow_up": rng.choice(FOLLOW_UPS) if rng.random() < 0.7 else None,
             "closing": rng.choice(CLOSINGS) if rng.random() < 0.5 else None}
        if kind == "resolved":
            p["proposed"] = first_resp + timedelta(seconds=rng.uniform(60, 900))
            p["by"] = "customer" if rng.random() < 0.7 else "silence"
            p["resolved"] = p["proposed"] + (timedelta(seconds=rng.uniform(10, 600)) if p["by"] == "customer"
                                             else timedelta(days=1))
            p["finished"] = p["resolved"]
        elif kind == "escalated":
            p["escalated"] = first_resp + timedelta(seconds=rng.uniform(60, 900))
            p["finished"] = p["escalated"] + timedelta(hours=rng.uniform(1, 30))
        else:
            p["finished"] = created + timedelta(seconds=rng.uniform(5, 60))
        plans.append(p)

    case_rows = []
    for p in plans:
        reward = rewards.get(p["topic"], 0) if p["kind"] == "resolved" else 0
        p["reward"] = reward
        case_rows.append({
            "brand_id": brand.id, "customer_id": p["customer"], "client_id": f"history-{offset}-{len(case_rows)}",
            "question": p["question"], "language": "en", "topic": p["topic"],
            "topic_confidence": round(rng.uniform(0.45, 0.99), 4),
            "status": CaseStatus.resolved if p["kind"] == "resolved" else CaseStatus.closed,
            "expert_id": p["expert"], "offer_round": 1 if p["expert"] else 0, "last_seq": 0, "rev": 1,
            "deflected": p["kind"] == "deflected",
            "escalation_reason": "needs an account change only staff can make" if p["kind"] == "escalated" else None,
            "routing": {"policy": "matching.dispatch", "pool": p["topic"]} if p["expert"] else {},
            "suggestions": [], "created_at": p["created"], "assigned_at": p["assigned"],
            "first_response_at": p["first_response"], "proposed_at": p.get("proposed"),
            "resolved_at": p.get("resolved"), "resolved_by": p.get("by"), "escalated_at": p.get("escalated"),
            "closed_at": p["finished"] if p["kind"] != "resolved" else None, "reward_cents": reward,
            "review_verdict": None, "review_note": None, "reviewed_at": None, "redacted_at": None})

    with engine.begin() as conn:
        ids = _insert_ids(conn, t_case, case_rows)
        offers, msgs, timers, ratings, answer_rows, updates = [], [], [], [], [], []
        for cid, p in zip(ids, plans):
            p["id"] = cid
            thread: list[tuple[str, int | None, str, datetime]] = [("customer", p["customer"], p["question"],
                                                                   p["created"])]
            if p["expert"]:
                offers.append({"case_id": cid, "expert_id": p["expert"], "round": 1, "status": OfferStatus.accepted,
                               "score": round(rng.uniform(0.1, 1.0), 4), "reasons": {"expertise": 1.0},
                               "created_at": p["created"], "expires_at": p["created"] + timedelta(seconds=600),
                               "responded_at": p["assigned"]})
                thread.append(("expert", p["expert"], p["greeting"], p["first_response"]))
                t = p["first_response"] + timedelta(seconds=rng.uniform(20, 120))
                if p["follow_up"]:
                    thread.append(("expert", p["expert"], p["answer"], t))
                    thread.append(("customer", p["customer"], p["follow_up"], t + timedelta(seconds=40)))
                    thread.append(("expert", p["expert"], "It usually takes a few minutes; if not, write here "
                                   "again and I will check.", t + timedelta(seconds=90)))
                else:
                    thread.append(("expert", p["expert"], p["answer"], t))
            if p["kind"] == "resolved":
                if p["closing"]:
                    thread.append(("customer", p["customer"], p["closing"], p["proposed"] - timedelta(seconds=5)))
                thread.append(("system", None, SOLVED, p["proposed"]))
            elif p["kind"] == "escalated":
                thread.append(("system", None, HANDOVER, p["escalated"]))
                thread.append(("staff", None, STAFF, p["finished"] - timedelta(minutes=5)))
            for seq, (sender, sid, text, at) in enumerate(thread, 1):
                msgs.append({"case_id": cid, "seq": seq, "sender": sender, "sender_id": sid,
                             "client_id": f"h{seq}" if sender in ("customer", "expert") else None,
                             "text": text, "sent_at": at})
            updates.append({"b_id": cid, "b_seq": len(thread), "b_rev": 2 + len(thread)})
            timers.append({"kind": TimerKind.case_escalate, "ref_id": cid, "due_at": p["created"] + timedelta(days=1),
                           "fired_at": p["assigned"] or p["finished"], "claimed_by": "cancelled"})
            if p["kind"] == "resolved":
                silent = p["by"] == "silence"
                timers.append({"kind": TimerKind.confirm_window, "ref_id": cid, "due_at": p["proposed"] + timedelta(days=1),
                               "fired_at": p["resolved"], "claimed_by": "history" if silent else "cancelled"})
                available = p["resolved"] + timedelta(seconds=review_s)
                p["available"] = available
                timers.append({"kind": TimerKind.review_window, "ref_id": cid, "due_at": available,
                               "fired_at": available if available <= now else None,
                               "claimed_by": "history" if available <= now else None})
                if p["by"] == "customer":  # answers.record: only a confirmed answer is reused
                    answer = scrub(p["answer"], [p["question"], *([p["follow_up"]] if p["follow_up"] else [])])
                    roll = rng.random()
                    status = (AnswerStatus.rejected if roll < 0.02 else AnswerStatus.approved if roll < 0.12
                              else AnswerStatus.pending)
                    decided = p["resolved"] + timedelta(days=2) if status != AnswerStatus.pending else None
                    answer_rows.append({
                        "brand_id": brand.id, "case_id": cid, "topic": p["topic"],
                        "question": scrub(p["question"], [p["question"]])[:4000], "answer": answer[:4000],
                        "scrubbed": answer[:4000], "status": status, "created_at": p["resolved"],
                        "decided_at": decided, "decided_by": "staff:1 history" if decided else None})
            if p["expert"] and rng.random() < 0.4:
                csat = rng.choices([5, 4, 3, 2, 1], [55, 25, 10, 5, 5])[0]
                ratings.append({"case_id": cid, "expert_id": p["expert"], "csat": csat,
                                "nps": rng.randint(0, 10) if rng.random() < 0.5 else None,
                                "comment": rng.choice([None, None, "quick and clear", "thanks"]),
                                "created_at": p["finished"] + timedelta(minutes=2)})
        offer_ids = _insert_ids(conn, t_offer, offers)
        for oid, o in zip(offer_ids, offers):
            timers.append({"kind": TimerKind.offer_expiry, "ref_id": oid, "due_at": o["expires_at"],
                           "fired_at": o["responded_at"], "claimed_by": "cancelled"})
        _insert(conn, t_msg, msgs)
        conn.execute(sa.update(t_case).where(t_case.c.id == sa.bindparam("b_id"))
                     .values(last_seq=sa.bindparam("b_seq"), rev=sa.bindparam("b_rev")), updates)
        _insert(conn, t_timer, timers)
        _insert(conn, t_rating, ratings)
        _insert(conn, t_answer, answer_rows)
        # the ledger, as credit_resolved_case and the review timer post it
        txs, legs = [], []
        for p in plans:
            if p["kind"] != "resolved" or p["reward"] <= 0:
                continue
            money = payouts.Money(p["reward"], currency)
            credit = payouts.credit_reward(p["id"], brand.id, p["expert"], money,
                                           memo=f"reward for case {p['id']} ({p['topic']})")
            meta = {**credit.metadata, "available_at": p["available"].isoformat(timespec="milliseconds")
                    .replace("+00:00", "Z"), "lines": f"{p['topic']}={p['reward']}"}
            posted = [(dataclasses.replace(credit, metadata=meta), p["resolved"])]
            if p["available"] <= now:
                posted.append((payouts.release_reward(p["id"], p["expert"], money), p["available"]))
            for tx, at in posted:
                txs.append({"key": tx.key, "kind": tx.kind, "memo": tx.memo[:500], "meta": dict(tx.metadata),
                            "brand_id": _int(tx.metadata.get("brand_id")), "expert_id": _int(tx.metadata.get("expert_id")),
                            "case_id": _int(tx.metadata.get("case_id")), "created_at": at})
                legs.append(tx.entries)
        tx_ids = _insert_ids(conn, t_tx, txs)
        _insert(conn, t_entry, [{"transaction_id": tid, "account": e.account, "amount_cents": e.cents,
                                 "currency": e.currency} for tid, entries in zip(tx_ids, legs) for e in entries])


def _int(raw: Any) -> int | None:
    return int(raw) if raw is not None and str(raw).isdigit() else None
