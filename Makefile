# The two commands a newcomer needs are `make demo` and `make test`; both set up what is missing.
SHELL := /bin/bash
VENV := .venv/bin
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: setup test lint typecheck boundaries timescaledb programs check-programs demo clean

setup:
	@bash scripts/setup.sh

lint: setup
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

typecheck: setup
	$(VENV)/mypy

# A private module (`_name`) is imported only from inside its own package (pyproject.toml).
boundaries: setup
	$(VENV)/lint-imports

# TimescaleDB from the vendored source, once (scripts/setup_timescaledb.sh; ~1.5 min on 2 cores).
timescaledb:
	bash scripts/setup_timescaledb.sh

# Builds the three SBF programs from source (installs the toolchain when it can).
programs:
	bash scripts/setup_sbf_toolchain.sh
	bash scripts/build_programs.sh programs/deploy

# CI rebuilds from source into .run/sbf and the tests run against those files; the check
# fails when the committed programs/deploy/*.so no longer match what the source builds.
check-programs:
	bash scripts/setup_sbf_toolchain.sh
	bash scripts/check_programs.sh .run/sbf

# The suite runs on TimescaleDB (a missing extension fails rather than skips); the database
# tests run once more on plain PostgreSQL so the fallback stays honest.
test: setup lint typecheck boundaries check-programs timescaledb
	GRIDX_PG_FLAVOR=timescaledb GRIDX_PROGRAM_DIR=$(CURDIR)/.run/sbf $(VENV)/pytest -q
	GRIDX_PG_FLAVOR=plain $(VENV)/pytest -q tests/db

demo: setup
	$(VENV)/gridx demo --flow4

clean:
	rm -rf .run .pytest_cache .mypy_cache .ruff_cache native/market_core/target
