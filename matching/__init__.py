"""GigCX matching: pure topic classification, expert ranking and dispatch (no web/DB deps)."""

from matching.classifier import TopicClassifier
from matching.ranker import FEATURES, ExpertRanker, ResolvedCase

__all__ = ["FEATURES", "ExpertRanker", "ResolvedCase", "TopicClassifier"]
