"""ExpertRanker: candidates, shrinkage, cold start, determinism, real-data sanity."""

from __future__ import annotations

from pathlib import Path

import pytest

from matching import FEATURES, ExpertRanker, ResolvedCase
from matching.datasets import cqa_rows, load_cqa, missing_data
from matching.evaluation import TagCountRanker, evaluate_routing, published_questions


def cases() -> list[ResolvedCase]:
    out = []
    for i in range(5):
        out.append(ResolvedCase(f"postgres index slow query {i}", ["postgres"], "ann", True, 5))
        out.append(ResolvedCase(f"mysql replication lag {i}", ["mysql"], "bob", True, 4))
    out.append(ResolvedCase("postgres vacuum", ["postgres"], "carl", False, 2))
    return out


def test_resolved_case_validates_rating() -> None:
    with pytest.raises(ValueError):
        ResolvedCase("x", [], "e", True, 6)
    assert ResolvedCase("x", ["t"], "e", False, None).rating is None


def test_rank_orders_by_expertise() -> None:
    r = ExpertRanker().fit(cases())
    ranking = r.rank("slow postgres query needs an index", ["postgres"])
    assert [e for e, _ in ranking][0] == "ann"
    assert {e for e, _ in ranking} == {"ann", "bob", "carl"}
    assert [s for _, s in ranking] == sorted((s for _, s in ranking), reverse=True)
    assert r.rank("replication is lagging", ["mysql"])[0][0] == "bob"


def test_restricted_to_candidates_with_unseen() -> None:
    r = ExpertRanker().fit(cases())
    ranking = r.rank("postgres index", ["postgres"], candidates=["bob", "zed", "ann", "amy"])
    ids = [e for e, _ in ranking]
    assert sorted(ids, key=str) == ["amy", "ann", "bob", "zed"]
    assert ids[0] == "ann"
    # unseen experts share the prior score and tie-break deterministically by id
    unseen = [(e, s) for e, s in ranking if e in ("amy", "zed")]
    assert unseen[0][1] == unseen[1][1] and [e for e, _ in unseen] == ["amy", "zed"]
    assert r.rank("anything", [], candidates=[]) == []


def test_quality_separates_experts_with_same_history() -> None:
    bad = [ResolvedCase(f"printer jam {i}", ["printer"], "bad", False, 1) for i in range(30)]
    good = [ResolvedCase(f"printer jam {i}", ["printer"], "good", True, 5) for i in range(30)]
    r = ExpertRanker().fit(bad + good)
    ids = [e for e, _ in r.rank("printer jam", ["printer"], candidates=["bad", "new", "good"])]
    assert ids[0] == "good" and set(ids) == {"good", "bad", "new"}


def test_bayesian_shrinkage_one_five_star_vs_hundred() -> None:
    data = [ResolvedCase("wifi drops", ["network"], "lucky", True, 5.0)]
    data += [ResolvedCase("wifi drops", ["network"], "steady", True, 4.8) for _ in range(100)]
    r = ExpertRanker().fit(data)
    assert r.rank("wifi drops", ["network"])[0][0] == "steady"
    i, j = r.experts_.index("lucky"), r.experts_.index("steady")
    feats = r.features("wifi drops", ["network"])
    assert feats["rating"][j] > feats["rating"][i]


def test_deterministic_and_int_ids() -> None:
    data = [ResolvedCase(f"q {i}", ["t"], i % 3, bool(i % 2), None) for i in range(12)]
    a = ExpertRanker().fit(data).rank("q 1", ["t"], candidates=[0, 1, 2, 99])
    b = ExpertRanker().fit(data).rank("q 1", ["t"], candidates=[0, 1, 2, 99])
    assert a == b and {e for e, _ in a} == {0, 1, 2, 99}


def test_tiny_and_degenerate_inputs() -> None:
    r = ExpertRanker().fit([ResolvedCase("?", [], "solo", True, None)])
    assert r.rank("", [])[0][0] == "solo"
    assert [e for e, _ in ExpertRanker().fit([]).rank("x", ["y"], candidates=["a"])] == ["a"]


def test_cqa_rows_and_load_cqa_on_a_small_copy(tmp_path: Path) -> None:
    cqa = tmp_path / "cqa"
    cqa.mkdir()
    (cqa / "questions.csv").write_text(
        "site,question_id,created,title,body_text,tags,asker_id,accepted_answer_id,"
        "accepted_answerer_id,n_answers,split\n"
        "dba,10,,slow join,my join is slow,mysql|index,1,12,7,2,train\n"
        "dba,20,,lock wait,deadlock again,mysql,2,22,8,2,test\n"
        "history,30,,roman roads,who built them,rome,3,31,9,1,train\n")
    (cqa / "answers.csv").write_text(
        "site,answer_id,question_id,answerer_id,created,score,accepted,answer_text\n"
        "dba,12,10,7,,5,1,\ndba,11,10,8,,0,0,\n"
        "dba,21,20,7,,1,0,\ndba,22,20,8,,3,1,\n"
        "history,31,30,9,,2,1,\n")
    qrows, arows = cqa_rows("dba", tmp_path)
    assert [q["question_id"] for q in qrows] == ["10", "20"]
    assert {(a["answer_id"], a["answerer_id"], a["score"]) for a in arows} == {
        ("12", "7", "5"), ("11", "8", "0"), ("21", "7", "1"), ("22", "8", "3")}
    assert qrows[0]["asker_id"] == "1" and qrows[0]["tags"] == "mysql|index"
    cases, train, test = load_cqa("dba", tmp_path)
    # train cases only, one per answer in answer order, dated by the answer id
    assert [(c.expert_id, c.resolved, c.at) for c in cases] == [("8", False, 11.0),
                                                                ("7", True, 12.0)]
    assert cases[0].topics == ["mysql", "index"] and cases[0].text == "slow join my join is slow"
    assert [q.question_id for q in train] == [10]
    assert test[0].answerers == ["7", "8"] and test[0].accepted_answerer == "8"
    assert test[0].at == 20.0


@pytest.mark.skipif(missing_data("cqa") is not None, reason=str(missing_data("cqa")))
def test_history_beats_tag_count_in_all_setting() -> None:
    train_cases, _, test = load_cqa("history")
    test = published_questions(test, {c.expert_id for c in train_cases})
    ours = evaluate_routing(ExpertRanker().fit(train_cases), test, "all")
    base = evaluate_routing(TagCountRanker().fit(train_cases), test, "all")
    assert ours["mrr"] > base["mrr"]


def test_learns_weights_from_enough_history() -> None:
    data = []
    for q in range(300):
        topic = ["db", "net", "ui"][q % 3]
        good = {"db": "ann", "net": "bob", "ui": "cy"}[topic]
        for e in ("ann", "bob", "cy", "dan"):
            data.append(ResolvedCase(f"{topic} question {q}", [topic], e, e == good, 4 if e == good else 2))
    r = ExpertRanker(min_learn_questions=20).fit(data)
    assert r.weights_learned_ and set(r.weights_) == set(FEATURES)
    assert r.rank("net question", ["net"], candidates=["ann", "bob", "dan"])[0][0] == "bob"
    assert not ExpertRanker().fit(data[:40]).weights_learned_


def test_rank_100_candidates_is_fast() -> None:
    import time

    data = [ResolvedCase(f"topic{i % 7} words {i} more {i % 13}", [f"t{i % 7}"], f"e{i % 300}",
                         i % 3 == 0, 1 + i % 5) for i in range(3000)]
    r = ExpertRanker(learn_weights=False).fit(data)
    cands = [f"e{i}" for i in range(100)]
    r.rank("topic3 words", ["t3"], candidates=cands)
    t0 = time.perf_counter()
    for _ in range(20):
        r.rank("topic3 words more", ["t3"], candidates=cands)
    assert (time.perf_counter() - t0) / 20 < 0.02


def test_candidate_lists_use_candidate_weights() -> None:
    import math

    import numpy as np

    data = []
    for q in range(300):
        topic = ["db", "net", "ui"][q % 3]
        good = {"db": "ann", "net": "bob", "ui": "cy"}[topic]
        for e in ("ann", "bob", "cy", "dan"):
            data.append(ResolvedCase(f"{topic} question {q}", [topic], e, e == good, 4 if e == good else 2))
    r = ExpertRanker(min_learn_questions=20).fit(data)
    assert set(r.candidate_weights_) == set(FEATURES)
    cands = ["dan", "cy", "new", "ann"]
    feats = r.features("ui question", ["ui"], candidates=cands)
    x = np.column_stack([feats[f] for f in FEATURES])
    expected = dict(zip(cands, x @ np.array([r.candidate_weights_[f] for f in FEATURES])))
    ranking = r.rank("ui question", ["ui"], candidates=cands)
    assert all(math.isfinite(s) and math.isclose(s, expected[e]) for e, s in ranking)
    assert ranking[0][0] == "cy"
    full = r.rank("ui question", ["ui"])
    assert {e for e, _ in full} == {"ann", "bob", "cy", "dan"}
    assert all(math.isfinite(s) for _, s in full)


def near_duplicate_history() -> list[ResolvedCase]:
    data = []
    for i in range(15):
        data.append(ResolvedCase(f"slow query index plan {i}", ["postgres"], "ann", True, 4))
        data.append(ResolvedCase(f"replication lag wal {i}", ["postgres"], "bob", True, 4))
    data.insert(12, ResolvedCase("pg_upgrade fails with checksum mismatch on toast table",
                                 ["postgres"], "zoe", True, 5))
    return data


def test_knn_finds_who_resolved_a_near_duplicate() -> None:
    r = ExpertRanker().fit(near_duplicate_history())
    query = "pg_upgrade checksum mismatch on a toast table"
    feats = r.features(query, ["postgres"], candidates=["ann", "bob", "zoe"])
    assert feats["knn_near"][2] > 0.5 > max(feats["knn_near"][:2])
    assert r.rank(query, ["postgres"])[0][0] == "zoe"
    # ...but the generalists still win their own kind of question
    assert r.rank("slow query plan index", ["postgres"])[0][0] == "ann"


def test_unseen_expert_between_proven_good_and_proven_bad() -> None:
    bad = [ResolvedCase(f"printer jam {i}", ["printer"], "bad", False, 1) for i in range(30)]
    good = [ResolvedCase(f"printer jam {i}", ["printer"], "good", True, 5) for i in range(30)]
    mid = [ResolvedCase(f"printer jam {i}", ["printer"], "mid", i % 2 == 0, 3) for i in range(30)]
    r = ExpertRanker().fit(bad + good + mid)
    ids = [e for e, _ in r.rank("printer jam", ["printer"], candidates=["new", "bad", "mid", "good"])]
    assert ids == ["good", "mid", "new", "bad"]


def learnable_history() -> list[ResolvedCase]:
    data = []
    for q in range(300):
        topic = ["db", "net", "ui"][q % 3]
        good = {"db": "ann", "net": "bob", "ui": "cy"}[topic]
        for e in ("ann", "bob", "cy", "dan"):
            data.append(ResolvedCase(f"{topic} question {q} words{q % 17}", [topic], e, e == good,
                                     4 if e == good else 2))
    return data


def test_learned_fit_is_deterministic_and_pickles() -> None:
    import pickle

    data = learnable_history()
    a = ExpertRanker(min_learn_questions=20).fit(data)
    b = ExpertRanker(min_learn_questions=20).fit(data)
    assert a.weights_learned_ and a.weights_ == b.weights_
    assert a.candidate_weights_ == b.candidate_weights_
    c = pickle.loads(pickle.dumps(a))
    for cands in (None, ["dan", "cy", "zed", "ann"]):
        assert c.rank("ui question words3", ["ui"], cands) == a.rank("ui question words3", ["ui"], cands)


# ------------------------------------------------------------------ time (ResolvedCase.at)
def shifts_history() -> list[ResolvedCase]:
    """ann works cases at t = 0..19, bob the same kind at 100..119, others fill 20..99 and
    120..199 (on another topic): equal history, only its time differs."""
    data = []
    for t in range(200):
        if t < 20 or 100 <= t < 120:
            who = "ann" if t < 20 else "bob"
            data.append(ResolvedCase(f"printer jam tray {t % 20}", ["printer"], who, True, 4, at=t))
        else:
            data.append(ResolvedCase(f"billing refund {t}", ["billing"], f"f{t % 7}", True, 4, at=t))
    return data


def test_at_is_optional_and_positional_api_unchanged() -> None:
    c = ResolvedCase("x", ["t"], "e", True, 4)
    assert c.at is None and ResolvedCase("x", ["t"], "e", True, 4, 17.0).at == 17.0


def test_recently_active_expert_ranks_above_inactive_one() -> None:
    r = ExpertRanker(learn_weights=False).fit(shifts_history())
    assert r.has_times_
    cands = ["bob", "ann"]
    # just after ann's shift: ann is the active one; just after bob's: bob
    assert [e for e, _ in r.rank("printer jam", ["printer"], cands, at=20.5)] == ["ann", "bob"]
    assert [e for e, _ in r.rank("printer jam", ["printer"], cands, at=120)] == ["bob", "ann"]
    # at=None is "now", after the whole history: bob was active more recently
    assert r.rank("printer jam", ["printer"], cands)[0][0] == "bob"
    assert r.rank("printer jam", ["printer"])[0][0] == "bob"
    # only cases strictly before `at` count: at bob's first case he has no past yet
    f = r.features("printer jam", ["printer"], ["ann", "bob"], at=100)
    assert f["t_prior"][1] == 0 and f["t_prior"][0] > 0
    assert r.features("printer jam", ["printer"], ["bob"], at=101)["t_prior"][0] > 0


def test_at_before_all_history_has_no_time_evidence() -> None:
    r = ExpertRanker(learn_weights=False).fit(shifts_history())
    ranking = r.rank("printer jam", ["printer"], ["bob", "ann", "new"], at=-5)
    scores = dict(ranking)
    assert scores["ann"] == scores["bob"] and [e for e, _ in ranking][:2] == ["ann", "bob"]
    f = r.features("printer jam", ["printer"], ["ann", "bob", "new"], at=-5)
    assert all(not f[name].any() for name in FEATURES if name.startswith("t_"))


def test_history_without_times_uses_list_order_and_ignores_at() -> None:
    data = [ResolvedCase(c.text, c.topics, c.expert_id, c.resolved, c.rating)
            for c in shifts_history()]
    r = ExpertRanker(learn_weights=False).fit(data)
    assert not r.has_times_
    assert r.rank("printer jam", ["printer"], at=20.5) == r.rank("printer jam", ["printer"])
    assert r.rank("printer jam", ["printer"], ["ann", "bob"])[0][0] == "bob"
    # one case without a time: the list order is the time
    mixed = shifts_history()[:-1] + data[-1:]
    assert not ExpertRanker().fit(mixed).has_times_


def shift_workers() -> list[tuple[float, ResolvedCase]]:
    """600 questions; expert e works the questions in [40 e, 40 e + 120) and the resolver is one
    of the experts on shift; two others (any) also answer. Returns (asked at, case)."""
    import random

    rnd = random.Random(3)
    experts = [f"e{i}" for i in range(15)]
    out = []
    for q in range(600):
        on = [e for i, e in enumerate(experts) if 40 * i <= q < 40 * i + 120] or experts[:1]
        best = rnd.choice(on)
        others = rnd.sample([e for e in experts if e != best], 2)
        for k, e in enumerate([best, *others]):
            out.append((q, ResolvedCase(f"question {q} about {rnd.choice(['x', 'y', 'z'])}",
                                        ["t"], e, e == best, 4 if e == best else 3,
                                        at=q + 0.1 * (k + 1))))
    return out


def test_learned_time_weights_rank_the_experts_on_shift() -> None:
    rows = shift_workers()
    data = [c for _, c in rows]
    r = ExpertRanker(min_learn_questions=50, max_learn_questions=300).fit(data)
    assert r.weights_learned_
    top = [r.rank("question about y", ["t"], at=q)[0][0] for q in (130, 300, 450)]
    on_shift = [{f"e{i}" for i in range(15) if 40 * i <= q < 40 * i + 120} for q in (130, 300, 450)]
    assert all(t in s for t, s in zip(top, on_shift))
    # without a time the experts of the end of the history come first
    assert r.rank("question about y", ["t"])[0][0] in {"e12", "e13", "e14"}


def test_timed_ranker_pickles() -> None:
    import pickle

    r = ExpertRanker().fit(shifts_history())
    c = pickle.loads(pickle.dumps(r))
    for at in (None, -1.0, 20.5, 150.0):
        assert c.rank("printer jam", ["printer"], ["ann", "bob", "x"], at=at) == \
            r.rank("printer jam", ["printer"], ["ann", "bob", "x"], at=at)


# ------------------------------------------------------------------ no times at all
def test_history_without_times_learns_time_free_weights() -> None:
    data = [ResolvedCase(c.text, c.topics, c.expert_id, c.resolved, c.rating)
            for _, c in shift_workers()]
    r = ExpertRanker(min_learn_questions=50, max_learn_questions=300).fit(data)
    assert r.weights_learned_ and not r.has_times_
    assert all(w == 0.0 for f, w in r.weights_.items() if f.startswith("t_"))
    assert all(w == 0.0 for f, w in r.candidate_weights_.items() if f.startswith("t_"))
    assert r.features_used_ == tuple(f for f in FEATURES if not f.startswith("t_"))
    timed = ExpertRanker(min_learn_questions=50, max_learn_questions=300).fit(
        [c for _, c in shift_workers()])
    assert timed.features_used_ == FEATURES


def _no_time_vs_tag_count(site: str) -> dict[str, tuple[float, float]]:
    cases, _, test = load_cqa(site, case_time="none")
    test = published_questions(test, {c.expert_id for c in cases})
    ours, tag = ExpertRanker().fit(cases), TagCountRanker().fit(cases)
    return {s: (evaluate_routing(ours, test, s, use_time=False)[m],
                evaluate_routing(tag, test, s, use_time=False)[m])
            for s, m in (("all", "mrr"), ("answerers", "p@1"))}


@pytest.mark.slow
@pytest.mark.timeout(1200)  # seconds on an idle machine; a shared one can be far slower
@pytest.mark.skipif(missing_data("cqa") is not None, reason=str(missing_data("cqa")))
@pytest.mark.parametrize("site", ["history", "dba", "physics"])
def test_without_times_level_with_tag_count_on_real_data(site: str) -> None:
    # the published test split of each site, both settings (bench/bench_matching.py prints them)
    for setting, (ours, tag) in _no_time_vs_tag_count(site).items():
        assert ours >= tag - 0.005, (setting, ours, tag)


def test_falls_back_to_tag_count_when_learning_does_not_beat_it() -> None:
    import random

    rng = random.Random(0)
    experts = [f"e{i}" for i in range(8)]
    data = []
    for q in range(400):  # answerers and resolver at random: nothing beats counting tags
        topic = f"t{q % 4}"
        group = rng.sample(experts, 3)
        winner = rng.choice(group)
        for e in group:
            data.append(ResolvedCase(f"question {q} about {topic}", [topic], e, e == winner, 4))
    r = ExpertRanker(min_learn_questions=50).fit(data)
    assert r.weights_learned_
    assert r.tag_count_fallback_ == {"all": True, "candidates": True}
    tag = TagCountRanker().fit(data)
    for topic in ("t0", "t1", "t2", "t3"):
        ranked = [e for e, _ in r.rank(f"new question about {topic}", [topic],
                                       candidates=experts)]
        # exactly the tag-count order, ties by id
        assert ranked == [e for e, _ in tag.rank("", [topic], candidates=experts)]
        assert [e for e, _ in r.rank(f"new question about {topic}", [topic])] == \
            [e for e, _ in tag.rank("", [topic], candidates=r.experts_)]
