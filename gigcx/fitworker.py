"""Fit a model in a child process, so a long fit never holds the serving process's interpreter
lock: `python -m gigcx.fitworker package.module:Estimator` reads a pickled training set on stdin,
fits `Estimator()` on it and writes the pickled model on stdout.

`fit_in_child` is the parent's side. Under gevent the wait is cooperative (the subprocess module
is patched), so the event loop keeps serving; the parent only pays for pickling the data and
unpickling the model."""
from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def fit_in_child(target: str, data: Any, timeout_s: float = 600.0) -> Any:
    """`Estimator().fit(data)` in a fresh interpreter; raises RuntimeError with its stderr on failure."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "gigcx.fitworker", target],  # noqa: S603 - our own module
                          input=pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL),
                          capture_output=True, timeout=timeout_s, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"fitting {target} in a child process failed ({done.returncode}): "
                           f"{done.stderr.decode(errors='replace')[-2000:]}")
    return pickle.loads(done.stdout)  # noqa: S301 - our own child's output


def _estimator(target: str) -> Any:
    module, _, name = target.partition(":")
    if not module or not name:
        raise ValueError(f"target must be 'package.module:Estimator'; got {target!r}")
    return getattr(importlib.import_module(module), name)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m gigcx.fitworker package.module:Estimator < data.pickle > model.pickle",
              file=sys.stderr)
        return 2
    data = pickle.load(sys.stdin.buffer)  # noqa: S301 - from our own parent
    model = _estimator(argv[0])().fit(data)
    pickle.dump(model, sys.stdout.buffer, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
