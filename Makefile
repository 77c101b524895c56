# The two commands a newcomer needs are `make demo` and `make test`; both set up what is missing.
SHELL := /bin/bash
VENV := .venv/bin
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: setup test lint typecheck unit programs check-programs demo clean

setup:
	@bash scripts/setup.sh

lint: setup
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

typecheck: setup
	$(VENV)/mypy

# Builds the three SBF programs from source (installs the toolchain when it can).
programs:
	bash scripts/setup_sbf_toolchain.sh
	bash scripts/build_programs.sh programs/deploy

# CI rebuilds from source into .run/sbf and the tests run against those files; the check
# fails when the committed programs/deploy/*.so no longer match what the source builds.
check-programs:
	bash scripts/setup_sbf_toolchain.sh
	bash scripts/check_programs.sh .run/sbf

test: setup lint typecheck check-programs
	GRIDX_PROGRAM_DIR=$(CURDIR)/.run/sbf $(VENV)/pytest -q

demo: setup
	$(VENV)/gridx demo

clean:
	rm -rf .run .pytest_cache .mypy_cache .ruff_cache
