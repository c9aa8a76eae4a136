"""payouts.trust: signal scoring, substantive answers, rating rings, shrinkage, QA sampling."""
from __future__ import annotations

import pytest

from payouts import trust as t


def test_weak_signals_need_company_and_strong_ones_hold_alone() -> None:
    s = t.TrustSettings()
    assert not t.assess(t.CaseFacts(), s).signals
    fast = t.assess(t.CaseFacts(cycle_seconds=3.0), s)
    assert [x.code for x in fast.signals] == ["fast_cycle"] and not fast.hold and fast.score == 0.5
    both = t.assess(t.CaseFacts(cycle_seconds=3.0, same_network=True), s)
    assert both.hold and both.score == 1.0
    device = t.assess(t.CaseFacts(same_device=True, same_network=True), s)
    assert [x.code for x in device.signals] == ["same_device"] and device.hold  # not counted twice
    for strong in ("own_account", "shared_payout_account"):
        assert t.assess(t.CaseFacts(**{strong: True}), s).hold


def test_silence_pays_only_after_a_substantive_answer() -> None:
    s = t.TrustSettings()
    assert t.assess(t.CaseFacts(confirmed_by_silence=True, substantive_answer=False), s).hold
    assert not t.assess(t.CaseFacts(confirmed_by_silence=True, substantive_answer=True), s).signals
    assert not t.assess(t.CaseFacts(confirmed_by_silence=False, substantive_answer=False), s).signals
    assert not t.is_substantive(["Hi!", "ok", "done"])
    assert not t.is_substantive(["a" * 500])
    assert t.is_substantive(["Open the app, go to Cards, tap Replace card and confirm your address."])


def test_brands_tune_weights_threshold_and_switch_off() -> None:
    s = t.TrustSettings.from_dict({"weights": {"fast_cycle": 1.0}})
    assert t.assess(t.CaseFacts(cycle_seconds=1.0), s).hold
    off = t.TrustSettings.from_dict({"weights": {"same_device": 0}})
    assert not t.assess(t.CaseFacts(same_device=True), off).signals
    lax = t.TrustSettings.from_dict({"hold_threshold": 2.0})
    assert not t.assess(t.CaseFacts(same_device=True), lax).hold
    disabled = t.TrustSettings.from_dict({"enabled": False})
    a = t.assess(t.CaseFacts(same_device=True), disabled)
    assert a.signals and not a.hold  # recorded, never held
    assert t.TrustSettings.from_dict(s.to_dict()) == s
    for bad in ({"nope": 1}, {"weights": {"nope": 1}}, {"qa_sample_rate": 2}, {"hold_threshold": 0}):
        with pytest.raises(t.SettingsError):
            t.TrustSettings.from_dict(bad)


def test_repeat_raters_weigh_as_one_customer() -> None:
    assert t.rating_weights(["a", "b", "a", "a"]) == pytest.approx([1 / 3, 1.0, 1 / 3, 1 / 3])
    assert t.rating_weights(["a", "a", "b"], ring=True) == pytest.approx([0.125, 0.125, 1.0])


def test_ring_suspected() -> None:
    s = t.TrustSettings()
    norm = t.csat_value(3)  # the topic averages 3 stars
    assert t.ring_suspected([("a", 5), ("a", 5), ("a", 5)], norm, s)  # one customer, three times
    assert t.ring_suspected([("a", 5), ("b", 5), ("a", 5), ("b", 5)], norm, s)  # two customers far above
    assert not t.ring_suspected([("a", 3), ("b", 3), ("a", 3), ("b", 3)], norm, s)  # at the norm
    honest = [(c, 5) for c in "abcdefgh"]
    assert not t.ring_suspected(honest, norm, s)  # many customers: a good expert, not a ring
    assert t.ring_suspected([("a", 5)], norm, s, repeats={"a": 3})  # one friend spread over topics


def test_quality_is_shrunk_toward_the_topic_mean() -> None:
    prior = 0.75
    assert t.quality_score([], [], prior, 5) == prior
    one_bad = t.quality_score([(0.0, 1.0)], [], prior, 5)
    many_bad = t.quality_score([(0.0, 1.0)] * 50, [], prior, 5)
    assert 0.6 < one_bad < prior and many_bad < 0.1
    assert t.quality_score([], [False, False], prior, 5) < t.quality_score([], [True, False], prior, 5)
    assert t.dispatch_factor(None, 0.3) == 1.0 and t.dispatch_factor(0.5, 0.3) == 1.0
    assert t.dispatch_factor(0.15, 0.3) == pytest.approx(0.25) and t.dispatch_factor(0.0, 0.3) == 0.05


def test_stratified_sampling_takes_the_share_of_every_stratum() -> None:
    for rate in (0.1, 0.25, 0.5):
        for stratum in range(20):
            off = t.stratum_offset("secret", "qa", stratum, "cards")
            assert 0 <= off < 1
            picked = sum(t.sampled(rate, n, off) for n in range(1, 101))
            assert abs(picked - rate * 100) <= 1
    assert not any(t.sampled(0.0, n, 0.5) for n in range(1, 50))
    assert all(t.sampled(1.0, n, 0.3) for n in range(1, 50))
    assert t.stratum_offset("a", 1) != t.stratum_offset("b", 1)
