# The two commands of the README: `make demo` and `make test`. Everything else supports them.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# The embedded local Ray: no token auth on a loopback-only cluster, no usage reporting.
export RAY_AUTH_MODE ?= disabled
export RAY_USAGE_STATS_ENABLED ?= 0
export PYTHONUNBUFFERED := 1

.PHONY: install lint test test-fast demo bench clean os-deps

# The suite's OS packages (PostgreSQL server, headless Chromium): installed when root with apt-get,
# else the run stops at once with the command to run. The tests use the newest PostgreSQL found.
os-deps:
	scripts/ensure-os-deps.sh postgresql chromium
PG_BIN_FOUND = $$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	# torch first: the pinned CUDA build runs on the CPU too (see README, "Install").
	$(PY) -m pip install -q -c constraints.txt torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $@

install: $(STAMP)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: os-deps install lint
	ABLATE_TEST_PG_BIN="$${ABLATE_TEST_PG_BIN:-$(PG_BIN_FOUND)}" $(VENV)/bin/pytest -q -p no:cacheprovider

test-fast: install
	scripts/ensure-os-deps.sh postgresql
	ABLATE_TEST_PG_BIN="$${ABLATE_TEST_PG_BIN:-$(PG_BIN_FOUND)}" $(VENV)/bin/pytest -q -m "not slow and not browser" -p no:cacheprovider

demo: install
	$(PY) -m service.demo $(ARGS)

clean:
	rm -rf .ablate runs data/synthetic
