# `make run` and `make test` each set up .venv themselves; Python 3.11+ and make are all they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test fuzz lint check-types clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@# an editable install leaves the package uncompiled; where PYTHONDONTWRITEBYTECODE is set,
	@# every start would compile it again (a fifth of a short `monitor check`)
	$(BIN)/python -m compileall -q monitor
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/monitor --config monitor.yaml -v run

test: $(STAMP)
	$(BIN)/python -m pytest

# The fuzz tests run 200 examples each in `make test`; this gives them a long budget.
fuzz: $(STAMP)
	MONITOR_FUZZ_EXAMPLES=$${MONITOR_FUZZ_EXAMPLES:-20000} $(BIN)/python -m pytest -q --timeout=0 tests/unit/test_fuzz.py

lint: $(STAMP)
	$(BIN)/ruff check monitor tests bench
	$(BIN)/ruff format --check monitor tests bench

check-types: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
