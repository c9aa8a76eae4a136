"""Make tests/ and the repository root importable and load the localstripe fixtures."""

import pathlib
import sys

_TESTS = pathlib.Path(__file__).resolve().parents[1]
for _path in (str(_TESTS.parent), str(_TESTS)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from stripe_fixture import *  # noqa: E402,F401,F403
