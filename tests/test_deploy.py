"""The deployment files in deploy/: HAProxy accepts its configuration, and docs/deploy.md shows
the files themselves (a block starting `# deploy/NAME` is that file, word for word)."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HAPROXY = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)


@pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed")
def test_haproxy_config_is_valid(tmp_path: Path) -> None:
    result = subprocess.run([HAPROXY, "-c", "-f", str(ROOT / "deploy" / "haproxy.cfg")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed")
def test_the_bench_config_derived_from_it_is_valid(tmp_path: Path) -> None:
    from bench.loadgen.common import haproxy_config

    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(haproxy_config([9001, 9002, 9003], 9000, maxconn=5000))
    result = subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    text = cfg.read_text()
    assert "bind 127.0.0.1:9000" in text and "maxconn 5000" in text
    assert text.count("127.0.0.1:9003") == 2  # in the sticky backend and in the WebSocket one


def test_docs_show_the_deploy_files_verbatim() -> None:
    doc = (ROOT / "docs" / "deploy.md").read_text()
    blocks = re.findall(r"```[a-z]*\n# (deploy/[^\n]+)\n(.*?)```", doc, flags=re.S)
    assert {name for name, _ in blocks} >= {"deploy/haproxy.cfg", "deploy/gigcx@.service",
                                             "deploy/postgresql.conf", "deploy/redis.conf"}
    for name, body in blocks:
        assert body == (ROOT / name).read_text(), f"docs/deploy.md's copy of {name} differs from the file"
