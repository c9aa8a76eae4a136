# The two commands of the README: `make serve` (set up, then start) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
PIP_EXTRAS ?= test,dev

.PHONY: setup serve test demo check bench clean

setup: $(VENV)/.installed

# Re-run the installation only when the dependency lists change.
$(VENV)/.installed: setup.cfg pyproject.toml $(wildcard package.json)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(PIP_EXTRAS)]'
	if [ -f package.json ]; then npm install --no-audit --no-fund --silent; fi
	touch $@

serve: setup
	$(VENV)/bin/gigcx serve --host $(HOST) --port $(PORT)

demo: setup
	$(VENV)/bin/gigcx demo --base-url http://$(HOST):$(PORT)

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

check: setup
	$(VENV)/bin/ruff check gigcx matching payouts tests
	$(VENV)/bin/mypy --strict matching payouts

clean:
	rm -rf $(VENV) node_modules instance
