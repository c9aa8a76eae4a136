"""scikit-learn's estimator checks, where they apply to a text estimator.

The common checks feed 2-D numeric arrays; TopicClassifier takes a 1-D sequence of strings and
rejects anything else, so checks that need numeric 2-D input are expected to fail. The checks
about construction, parameters, cloning, tags and repr are run for real.
"""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import (
    check_estimator_cloneable,
    check_estimator_repr,
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
    check_valid_tag_types,
)

from matching import TopicClassifier

CHECKS = [
    check_estimator_cloneable,
    check_estimator_repr,
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
    check_valid_tag_types,
]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_sklearn_api_check(check: object) -> None:
    check("TopicClassifier", TopicClassifier())  # type: ignore[operator]


def test_clone_and_params_roundtrip() -> None:
    from sklearn.base import clone

    clf = TopicClassifier(embeddings="none", C=0.5)
    other = clone(clf)
    assert other.get_params() == clf.get_params()
