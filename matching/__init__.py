"""GigCX matching: pure topic classification, expert ranking and dispatch (no web/DB deps)."""

from matching.classifier import TopicClassifier

__all__ = ["TopicClassifier"]
