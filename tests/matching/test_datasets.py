"""The full evaluation data is optional: what needs it says what is missing and skips."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from matching.datasets import missing_data

REPO = Path(__file__).resolve().parents[2]


def test_missing_data_names_the_files_and_the_setting(tmp_path: Path) -> None:
    why = missing_data("banking77", "cqa", root=tmp_path)
    assert why is not None
    assert str(tmp_path / "banking77" / "train.csv") in why and str(tmp_path / "cqa" / "answers.csv") in why
    assert "GIGCX_SHARED_DATA" in why
    (tmp_path / "banking77").mkdir()
    for name in ("train.csv", "test.csv"):
        (tmp_path / "banking77" / name).write_text("text,label\n")
    assert missing_data("banking77", root=tmp_path) is None


@pytest.mark.parametrize("script", ["bench_matching.py", "ranker_cv.py"])
def test_benchmarks_skip_with_a_reason_without_the_data(script: str, tmp_path: Path) -> None:
    env = {"GIGCX_SHARED_DATA": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, str(REPO / "bench" / script)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("skipped: the full") and "GIGCX_SHARED_DATA" in proc.stderr, proc.stderr
