"""The `gigcx` command line: db upgrade, demo, matching train."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from gigcx.cli import cli
from gigcx.models import Brand, ExpertProgram, TopicModel


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> str:
    monkeypatch.setenv("GIGCX_DATABASE_URL", database_url)
    monkeypatch.setenv("GIGCX_INSTANCE_PATH", str(tmp_path / "inst"))
    monkeypatch.setenv("GIGCX_SECRET_KEY", "cli-test")
    return database_url


def test_db_upgrade_is_idempotent(env: str) -> None:
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(cli, ["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert "schema is up to date" in result.output


def test_demo_seeds_brand_topics_and_experts(env: str) -> None:
    result = CliRunner().invoke(cli, ["demo", "--topics", "5", "--base-url", "http://h:1"])
    assert result.exit_code == 0, result.output
    assert "http://h:1/demo/demo" in result.output and "gcxb_" in result.output
    again = CliRunner().invoke(cli, ["demo", "--topics", "5"])
    assert again.exit_code == 0, again.output
    from sqlalchemy import create_engine

    engine = create_engine(env)
    with Session(engine) as s:
        assert len(s.exec(select(Brand)).all()) == 1
        programs = s.exec(select(ExpertProgram)).all()
        assert len(programs) == 3 and all(p.status == "approved" and len(p.topics) == 5 for p in programs)
    engine.dispose()


def test_matching_train_versions_models(env: str, api: Any, app: Any) -> None:
    key = api.brand("acme")
    api.topic(key, "cards", examples=["where is my card", "card not arrived", "card delivery"])
    api.topic(key, "loans", examples=["loan interest", "borrow money", "loan application"])
    api.brand("lonely")
    runner = CliRunner()
    result = runner.invoke(cli, ["matching", "train", "--embeddings", "none"])
    assert result.exit_code == 0, result.output
    assert "acme: v1" in result.output and "lonely: skipped" in result.output
    assert "acme: v2" in runner.invoke(cli, ["matching", "train", "--brand", "acme", "--embeddings", "none"]).output
    bad = runner.invoke(cli, ["matching", "train", "--brand", "nope"])
    assert bad.exit_code != 0 and "unknown brand" in bad.output
    with Session(app.extensions["gigcx_engine"]) as s:
        assert [m.version for m in s.exec(select(TopicModel).order_by(TopicModel.version))] == [1, 2]


def test_trained_model_is_served_after_background_load(api: Any, app: Any) -> None:
    from gigcx.db import session_scope
    from gigcx.services import routing, training
    from gigcx.services.brands import brand_by_slug

    key = api.brand("acme")
    api.topic(key, "cards", examples=["where is my card"])
    api.topic(key, "loans", examples=["loan interest"])
    with app.app_context():
        with session_scope() as session:
            brand = brand_by_slug(session, "acme")
            assert routing.brand_models(session, brand).trained_version is None
            training.train_brand(session, brand, embeddings="none")
            routing._checked.clear()
            # Starts the background load and answers with the cold-start model meanwhile.
            assert routing.brand_models(session, brand).trained_version is None
        deadline = time.monotonic() + 10
        while True:  # the loader needs the (single, on SQLite) connection: poll between sessions
            with session_scope() as session:
                if routing.brand_models(session, brand).trained_version == 1:
                    topic, confidence = routing.classify(session, brand, "when does my card arrive")
                    break
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert topic == "cards" and 0 < confidence <= 1


def test_serve_refuses_a_bad_gc_setting_before_starting(env: str) -> None:
    import os
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "gigcx", "serve", "--port", "1"], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "GIGCX_GC_FREEZE_S": "soon"})
    assert out.returncode != 0
    assert "GIGCX_GC_FREEZE_S must be a number of seconds >= 0; got 'soon'" in out.stderr
