# The two commands of the README: `make serve` (set up, then start) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# The serving install stays light; tests also install the embeddings extra to exercise it.
TEST_EXTRAS ?= test,dev,embeddings

.PHONY: setup setup-test serve test demo check bench bench-load clean

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

setup: $(VENV)/.installed
$(VENV)/.installed: setup.cfg pyproject.toml $(wildcard package.json) | $(PY)
	$(PY) -m pip install --quiet -e .
	if [ -f package.json ]; then npm install --no-audit --no-fund --silent; fi
	touch $@

setup-test: $(VENV)/.installed-test
$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[$(TEST_EXTRAS)]'
	touch $@

serve: setup
	$(VENV)/bin/gigcx serve --host $(HOST) --port $(PORT)

demo: setup
	$(VENV)/bin/gigcx demo --base-url http://$(HOST):$(PORT)

test: setup-test
	$(PY) -m pytest $(PYTEST_ARGS)

check: setup-test
	$(VENV)/bin/ruff check gigcx matching payouts tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --strict --ignore-missing-imports matching payouts
	$(VENV)/bin/lint-imports

bench: setup-test
	$(PY) bench/bench_matching.py

# Load benchmark (docs/benchmarks.md, "Load"): `make bench-load BENCH_ARGS=--quick` for ~30 s.
bench-load: setup-test
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) bench/load.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) node_modules instance
