"""GigCX matching: pure topic classification, expert ranking and dispatch (no web/DB deps)."""

from matching.classifier import TopicClassifier
from matching.ranker import ExpertRanker, RankerWeights, ResolvedCase

__all__ = ["ExpertRanker", "RankerWeights", "ResolvedCase", "TopicClassifier"]
