# The two commands a newcomer needs:  make demo   and   make test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup java lint pytest dbt lock bench clean

demo: setup ## generate the source, land DMS files, dbt build on local Spark + Iceberg, summarise
	$(BIN)/cdclake demo

test: setup lint pytest ## everything CI runs

setup: java $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

java: ## Spark 3.5 needs Java 17 (or 11); install it from Debian if it is missing
	@if ! java -version 2>&1 | grep -qE 'version "(11|17)'; then \
	  echo "Installing OpenJDK 17 (Spark needs Java)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless; \
	fi

lint: setup
	$(BIN)/ruff check cdclake tests bench
	$(BIN)/ruff format --check cdclake tests bench
	$(BIN)/cdclake lint-sql

pytest: setup
	$(BIN)/pytest

dbt: setup ## run any dbt command: make dbt ARGS="build --select current_state"
	$(BIN)/cdclake dbt $(ARGS)

bench: setup ## the benchmarks of bench/README.md
	$(BIN)/python -m bench.apply_benchmark

lock: ## re-resolve requirements.in into requirements.lock
	rm -rf /tmp/cdclake-lock && $(PYTHON) -m venv /tmp/cdclake-lock
	/tmp/cdclake-lock/bin/pip install --quiet -r requirements.in
	(echo "# Generated from requirements.in with: make lock (pip freeze of a clean venv). Do not edit by hand."; \
	  /tmp/cdclake-lock/bin/pip freeze) > requirements.lock

clean: ## remove all generated data (landing, warehouse, snapshots)
	rm -rf data
