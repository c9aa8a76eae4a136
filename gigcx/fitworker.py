"""Fit a model in a child process, so a long fit never holds the serving process's interpreter
lock: `python -m gigcx.fitworker package.module:Estimator` reads a pickled training set on stdin,
fits `Estimator()` on it and writes the model on stdout (a file: `write_model`).

`fit_in_child` is the parent's side. Under gevent the wait is cooperative (the subprocess module
is patched), so the event loop keeps serving; the parent only pays for pickling the data and
unpickling the model.

`load_and_fit_in_child` (`--from-database`) has the child read the training set itself, and its
version, through the loader functions the parent names: the parent then neither reads 20,000 rows
on its event loop (0.1-0.4 s, during which its other greenlets waited for the database and the
loop) nor pickles them. The child reads outside any transaction it would have to begin itself: on
SQLite a plain reader (no `BEGIN IMMEDIATE`, so no writer of any process waits for it).

The model comes back in a file the parent maps rather than reads (`write_model`, `map_model`):
its arrays (a suggestion index's postings and texts, the ranker's coefficients) are pickled out
of band (pickle protocol 5) and each becomes a view of the mapping, so they never enter the
serving process's heap. The pages are the file's, loaded as they are touched, and given back
whole when the last array of a replaced model goes, so the model leaves no hole among the
connections' allocations (a 5,000-answer index: 0.6 MiB of malloc heap instead of 5.5;
docs/benchmarks.md, "Memory at model swaps: the model mapped from the child's file").

The child runs at a lower CPU priority (`CHILD_NICENESS` above the parent's): a refit is
background work (a ranker's takes seconds of a core at 20,000 past cases), and where the serving
process, its database and the child share too few cores, the scheduler should favour serving."""
from __future__ import annotations

import importlib
import mmap
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
#: how much lower than its parent's the child's CPU priority is (`nice`; the kernel caps it at 19)
CHILD_NICENESS = 10
#: the model file's header: a tag, the length of the in-band pickle and the number of
#: out-of-band buffers; then one (offset, length) per buffer, the pickle, and the buffers
HEADER = struct.Struct("<8sQQ")
BUFFER = struct.Struct("<QQ")
MAGIC = b"gigcxmd1"
#: each buffer starts at a multiple of this (the arrays mapped from it are aligned for any dtype)
ALIGN = 64


def fit_in_child(target: str, data: Any, timeout_s: float = 600.0) -> Any:
    """`Estimator().fit(data)` in a fresh interpreter; raises RuntimeError with its stderr on failure."""
    return _run([target], data, timeout_s)


@dataclass(frozen=True)
class Source:
    """Where a child reads its training set: `load(session, key)` and `version(session, key)`
    ("package.module:function" names) on the database at `database_url`."""

    database_url: str
    version: str
    load: str
    key: int


@dataclass(frozen=True)
class Fitted:
    """What a child that read its own data hands back: the data's version and size (its `len`),
    the seconds the fit took (not the load) and the model."""

    version: tuple[Any, ...]
    size: int
    fit_s: float
    model: Any


def can_read(database_url: str) -> bool:
    """Whether a child process can open this database (not an in-memory SQLite one)."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    return url.get_backend_name() != "sqlite" or (url.database or "") not in ("", ":memory:") and (
        "mode=memory" not in database_url)


def load_and_fit_in_child(target: str, source: Source, timeout_s: float = 600.0) -> Fitted:
    """`Estimator().fit(load(session, key))` in a fresh interpreter that reads the data itself."""
    version, size, fit_s, model = _run([target, "--from-database"], source, timeout_s)
    return Fitted(version, size, fit_s, model)


def _run(args: list[str], payload: Any, timeout_s: float) -> Any:
    """Run the child; its model comes back through an unlinked temporary file, mapped
    (`map_model`). Through a pipe it arrived as chunks joined into one bytes object (6 MiB for a
    suggestion index of 5,000 answers), then unpickled: twice the model's size allocated in the
    serving process at each swap, among its connections' allocations (docs/benchmarks.md,
    "Memory at model swaps")."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryFile(prefix="gigcx-model-") as model_file:
        done = subprocess.run([sys.executable, "-m", "gigcx.fitworker", *args],  # noqa: S603 - our own module
                              input=pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL),
                              stdout=model_file, stderr=subprocess.PIPE, timeout=timeout_s, env=env, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"fitting {args[0]} in a child process failed ({done.returncode}): "
                               f"{done.stderr.decode(errors='replace')[-2000:]}")
        return map_model(model_file)


def write_model(obj: Any, out: IO[bytes]) -> None:
    """Pickle `obj` into `out` as `map_model` reads it: its buffers (numpy arrays, anything
    pickle protocol 5 can take out of band) after the pickle, each at an aligned offset."""
    buffers: list[pickle.PickleBuffer] = []
    stream = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    raw = [buffer.raw() for buffer in buffers]
    written = HEADER.size + BUFFER.size * len(raw) + len(stream)
    starts, offset = [], written
    for view in raw:
        starts.append(offset := _aligned(offset))
        offset += view.nbytes
    out.write(HEADER.pack(MAGIC, len(stream), len(raw)))
    out.write(b"".join(BUFFER.pack(start, view.nbytes) for start, view in zip(starts, raw, strict=True)))
    out.write(stream)
    for start, view in zip(starts, raw, strict=True):
        out.write(bytes(start - written))  # padding up to the aligned start
        out.write(view)
        written = start + view.nbytes
    out.flush()


def map_model(model_file: IO[bytes]) -> Any:
    """The object `write_model` wrote to this file, its buffers views of a private (copy-on-write)
    mapping of the file: the mapping lasts as long as one of them does, then is unmapped. The
    file may be closed (and was already unlinked) once this returns."""
    mapped = mmap.mmap(model_file.fileno(), 0, access=mmap.ACCESS_COPY)
    with memoryview(mapped) as whole:
        magic, stream_len, count = HEADER.unpack_from(whole, 0)
        if magic != MAGIC:
            raise RuntimeError("the fit worker's output is not a model file")
        places = [BUFFER.unpack_from(whole, HEADER.size + BUFFER.size * i) for i in range(count)]
        start = HEADER.size + BUFFER.size * count
        # the buffers are slices of `mapped` itself, not of `whole`, so `whole` can be released
        return pickle.loads(whole[start:start + stream_len],  # noqa: S301 - our own child's output
                            buffers=[memoryview(mapped)[at:at + size] for at, size in places])


def _aligned(offset: int) -> int:
    return -(-offset // ALIGN) * ALIGN


def _named(target: str, what: str = "Estimator") -> Any:
    module, _, name = target.partition(":")
    if not module or not name:
        raise ValueError(f"target must be 'package.module:{what}'; got {target!r}")
    return getattr(importlib.import_module(module), name)


def _estimator(target: str) -> Any:
    return _named(target)


def read_source(source: Source) -> tuple[tuple[Any, ...], Any]:
    """The version, then the data, of `source` (the data is at least as new as the version)."""
    import sqlalchemy as sa
    from sqlmodel import Session

    version, load = _named(source.version, "function"), _named(source.load, "function")
    engine = sa.create_engine(source.database_url, poolclass=sa.pool.NullPool)
    try:
        with Session(engine) as session:
            return tuple(version(session, source.key)), load(session, source.key)
    finally:
        engine.dispose()


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2) or (len(argv) == 2 and argv[1] != "--from-database"):
        print("usage: python -m gigcx.fitworker package.module:Estimator [--from-database] < data.pickle "
              "> model-file", file=sys.stderr)
        return 2
    if hasattr(os, "nice"):  # POSIX
        os.nice(CHILD_NICENESS)
    payload = pickle.load(sys.stdin.buffer)  # noqa: S301 - from our own parent
    if len(argv) == 2:
        version, data = read_source(payload)
        start = time.monotonic()
        model = _estimator(argv[0])().fit(data)
        out: Any = (version, len(data), time.monotonic() - start, model)  # a tuple: this module is __main__ here
    else:
        out = _estimator(argv[0])().fit(payload)
    write_model(out, sys.stdout.buffer)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
