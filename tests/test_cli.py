"""The `gigcx` command line: db upgrade, demo, matching train."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from gigcx.cli import cli
from gigcx.demo import DemoDataMissing, banking77_topics
from gigcx.models import Brand, ExpertProgram, Topic, TopicModel


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
        topics = {t.slug: t for t in s.exec(select(Topic))}
    engine.dispose()
    # The topics are the shipped BANKING77 questions, not a stand-in.
    assert set(topics) == set(banking77_topics(5))
    assert "transaction_charged_twice" in topics
    assert topics["transaction_charged_twice"].name == "Transaction charged twice"
    assert len(topics["card_arrival"].examples) == 40
    assert "brand 'demo'" in result.output and "http://h:1/ " not in result.output


def test_demo_routes_real_questions_to_their_topics(env: str, app: Any) -> None:
    """The demo's topics come from the shipped data, wherever the checkout is: a double charge
    goes to the double-charge topic, a lost card to the lost-card one."""
    result = CliRunner().invoke(cli, ["demo"])
    assert result.exit_code == 0, result.output
    from gigcx.db import session_scope
    from gigcx.services import brands, routing

    with app.app_context(), session_scope() as session:
        brand = brands.brand_by_slug(session, "demo")
        assert brand is not None
        assert routing.classify(session, brand, "I was charged twice")[0] == "transaction_charged_twice"
        assert routing.classify(session, brand, "Someone stole my card!")[0] == "lost_or_stolen_card"
        assert routing.classify(session, brand, "my new card still hasn't come")[0] == "card_arrival"


def test_demo_data_ships_with_its_licence() -> None:
    from gigcx.demo import DEMO_DATA

    notes = (DEMO_DATA.parent / "README.md").read_text()
    assert "CC BY 4.0" in notes and "Casanueva" in notes
    assert len(banking77_topics(100)) == 20


def test_demo_says_what_is_missing_without_its_data(tmp_path: Path) -> None:
    with pytest.raises(DemoDataMissing, match="reinstall"):
        banking77_topics(3, path=tmp_path / "nope.csv")


def test_one_off_commands_print_no_migration_log(env: str, caplog: pytest.LogCaptureFixture) -> None:
    """`gigcx db upgrade`, `gigcx demo`…: their own output only, not alembic's INFO lines."""
    import logging

    caplog.set_level(logging.INFO)
    result = CliRunner().invoke(cli, ["demo", "--topics", "2"])
    assert result.exit_code == 0, result.output
    noisy = [r.getMessage() for r in caplog.records
             if r.levelno < logging.WARNING and r.name.startswith(("alembic", "gigcx"))]
    assert noisy == []
    # The quiet spell ends with the command.
    assert logging.getLogger("alembic").level == logging.NOTSET


def test_ctrl_c_stops_the_server_without_a_traceback(tmp_path: Path, database_url: str) -> None:
    import signal
    import subprocess
    import sys

    from tests.servers import free_port

    env = dict(os.environ, GIGCX_DATABASE_URL=database_url, GIGCX_INSTANCE_PATH=str(tmp_path / "inst"),
               GIGCX_SECRET_KEY="cli-test")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from gigcx.entry import main; main()", "serve", "--port", str(free_port())],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        # Started from a shell without job control, Ctrl-C (SIGINT) would arrive ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if "listening on" in line:
            break
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    output = "".join(lines) + rest
    assert proc.returncode == 0, output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output
    assert "GigCX stopped" in output
    assert "INFO alembic" not in output


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
    from gigcx.uow import transaction

    key = api.brand("acme")
    api.topic(key, "cards", examples=["where is my card"])
    api.topic(key, "loans", examples=["loan interest"])
    with app.app_context():
        with transaction() as session:
            brand = brand_by_slug(session, "acme")
            assert routing.brand_models(session, brand).trained_version is None
            training.train_brand(session, brand, embeddings="none")
        with session_scope() as session:
            routing.state().checked.clear()
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
    assert "GIGCX_GC_FREEZE_S: Input should be a valid number, unable to parse string as a number (got 'soon')" in out.stderr
