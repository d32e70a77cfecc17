# The README's two commands: `make demo` runs the product, `make test` runs every test.
# Both create .venv (Python 3.11) and install the package on first use.
VENV ?= .venv
PYTHON_BOOT ?= $(shell command -v python3.11 || command -v python3)
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: demo test test-fast lint install install-dev clean

$(VENV)/.base: setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.dev: $(VENV)/.base
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.base
install-dev: $(VENV)/.dev

demo: $(VENV)/.base
	$(VENV)/bin/cbt demo --port $(PORT)

test: $(VENV)/.dev
	PYTHON=$(PY) bash scripts/test.sh

test-fast: $(VENV)/.dev
	$(PY) -m pytest -m "not e2e and not slow and not scale" -q -n 2

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
