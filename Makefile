# posbon: `make demo` and `make test` set everything up on a machine with only Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.posbon-installed

.PHONY: demo test test-pg lint setup bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock scripts/system-deps.sh
	bash scripts/system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[video]' || \
		echo "setup: vPDQ could not be built (it needs cmake and ffmpeg's -dev packages: run scripts/system-deps.sh as root); videos are matched by MD5 only"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/posbon demo --dir demo-workspace

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

# The store-heavy tests again on PostgreSQL (a fresh database per test; docs/postgres.md).
PG_TESTS := tests/test_postgres.py tests/test_store.py tests/test_scan_cli.py tests/test_bank_controls.py \
	tests/test_review_accounts.py tests/test_review_decisions.py tests/test_review_purge.py \
	tests/test_review_sor.py tests/test_review_training.py tests/test_audit.py tests/test_platform_intake.py \
	tests/test_platform_webhooks.py tests/test_web_api.py tests/test_clusters.py tests/test_items_api.py \
	tests/test_hma_api.py tests/test_transparency.py tests/test_scan_bank_thresholds.py \
	tests/test_exchanges_http.py tests/test_match_cli.py tests/test_policy.py tests/test_worker_outage.py \
	tests/test_bank_bulk.py tests/test_worker.py tests/test_live_index.py tests/test_match_fastpath.py \
	tests/test_review_queue_routes.py tests/test_rules_backtest_dask.py tests/test_hma_hardening.py tests/test_platform_input_hardening.py

test-pg: $(STAMP)
	POSBON_TEST_PG=1 $(BIN)/pytest -q $(PG_TESTS)

bench: $(STAMP)
	$(BIN)/python bench/scan_throughput.py --count 10000

clean:
	rm -rf $(VENV) demo-workspace .pytest_cache .mypy_cache .ruff_cache
