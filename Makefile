# opsdb: `make demo` and `make test` are the whole set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo bench bench-volume lint up down schema deps system-deps clean

# One pytest worker per core, each with an embedded cluster of its own; a file's
# tests stay on one worker (module fixtures). Against DATABASE_URL (one server,
# one pg_cron database) the suite runs in one process.
PYTEST_WORKERS ?= $(if $(DATABASE_URL),,-n auto --dist loadfile)

# Lint runs inside the suite (tests/foundation/test_lint.py), beside the other tests.
test: deps
	$(BIN)/pytest $(PYTEST_WORKERS)

demo: deps
	$(BIN)/opsdb demo

bench: deps
	$(BIN)/python -m bench

bench-volume: deps
	$(BIN)/python -m bench.volume

lint: deps
	$(BIN)/opsdb lint

schema: deps
	$(BIN)/opsdb schema

up: deps
	$(BIN)/opsdb up

down: deps
	$(BIN)/opsdb down

deps: system-deps $(STAMP)

system-deps:
	@scripts/ensure-postgres.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

clean:
	-$(BIN)/opsdb down
	rm -rf .opsdb $(VENV)
