# The two set-up commands: `make run` (demo mode, or CONFIG=path for a real tenant) and `make test`.
# `make run` installs only what the exporter needs; `make test` and `make lint` add the test tools.
# Each set-up has its own stamp, so neither reinstalls what is already there.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check --quiet
ANSWERS := tests/monitoring/dashboard-answers.jsonl

.PHONY: run test lint bench soak pictures clean

# A pip recent enough for editable installs from pyproject.toml (PEP 660); an older one is upgraded.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install 'pip>=23'

$(BIN)/.installed-run: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	touch $@

# The test tools include everything `make run` needs, so this stamp satisfies `make run` too.
$(BIN)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[test]'
	touch $@ $(BIN)/.installed-run

run: $(BIN)/.installed-run
	$(BIN)/anaplan-exporter $(if $(CONFIG),--config $(CONFIG)) $(ARGS)

lint: $(BIN)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict

test: lint
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(BIN)/.installed-test
	$(BIN)/python bench/bench.py $(ARGS)

soak: $(BIN)/.installed-test
	$(BIN)/python bench/soak.py $(ARGS)

# The dashboard pictures in docs/dashboards/ (about 4 minutes: a demo stack scrapes for 3, then Chromium), with
# the Prometheus answers they were drawn from, which the renderer's test in `make test` draws again.
pictures: $(BIN)/.installed-test
	$(BIN)/python grafana/render_pictures.py --record $(ANSWERS) $(ARGS)
	$(BIN)/pytest -q -p no:cacheprovider tests/monitoring/test_dashboard_pictures.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
