# The two commands a newcomer needs:  make demo   and   make test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup java chromium lint pytest dbt docs airflow checks-archive airflow-bundle lock bench clean

demo: setup ## generate the source, land DMS files, dbt build on local Spark + Iceberg, reconcile, summarise
	$(BIN)/cdclake demo

test: setup chromium lint pytest ## everything CI runs

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

chromium: ## the report's browser test opens it in Debian's Chromium (driven by Playwright)
	@if ! command -v chromium > /dev/null; then \
	  echo "Installing Chromium from Debian (for the report's browser test)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null; \
	fi

lint: setup
	$(BIN)/ruff check cdclake tests bench orchestration infra
	$(BIN)/ruff format --check cdclake tests bench orchestration infra
	$(BIN)/cdclake lint-sql
	$(BIN)/lint-imports

pytest: setup
	$(BIN)/pytest

dbt: setup ## run any dbt command: make dbt ARGS="build --select current_state"
	$(BIN)/cdclake dbt $(ARGS)

docs: setup ## the dbt docs site (every model, column and test; lineage) as one page under data/docs (after make demo)
	$(BIN)/cdclake docs

# The Airflow DAG on the embedded defaults: SQLite metadata under data/airflow, local Spark.
AIRFLOW_ENV := AIRFLOW_HOME=$${CDCLAKE_DATA_DIR:-$(CURDIR)/data}/airflow AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/orchestration/dags \
  AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__COSMOS__ENABLE_CACHE_DBT_LS=False \
  AIRFLOW__COSMOS__ENABLE_TELEMETRY=False AIRFLOW_CONN_FS_DEFAULT=fs://

airflow: setup ## one run of the Airflow DAG on the demo's data (after make demo): airflow dags test
	$(BIN)/cdclake dbt parse --quiet
	$(AIRFLOW_ENV) $(BIN)/airflow db migrate > /dev/null
	$(AIRFLOW_ENV) $(BIN)/airflow dags test cdclake_pipeline

# What infra/README.md deploys, with the glue target's settings from the environment
# (CDCLAKE_GLUE_ROLE_ARN, AWS_REGION, CDCLAKE_WAREHOUSE_URI): each prints its size and contents.
checks-archive: setup ## the checks job's packed venv for EMR on EKS: build/cdclake-venv.tar.gz
	$(BIN)/python infra/artifacts/build.py checks

airflow-bundle: setup ## the DAGs, the dbt project and the cdclake wheel for MWAA: build/cdclake-airflow.zip
	$(BIN)/python infra/artifacts/build.py airflow

bench: setup ## the benchmarks of bench/README.md
	$(BIN)/python -m bench.apply_benchmark
	$(BIN)/python -m bench.demo_memory
	$(BIN)/python -m bench.hash_benchmark
	$(BIN)/python -m bench.reconcile_benchmark

lock: ## re-resolve requirements.in into requirements.lock
	rm -rf /tmp/cdclake-lock && $(PYTHON) -m venv /tmp/cdclake-lock
	/tmp/cdclake-lock/bin/pip install --quiet -r requirements.in
	(echo "# Generated from requirements.in with: make lock (pip freeze of a clean venv). Do not edit by hand."; \
	  /tmp/cdclake-lock/bin/pip freeze) > requirements.lock

clean: ## remove all generated data (landing, warehouse, snapshots)
	rm -rf data
