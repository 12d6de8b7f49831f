# Managely: `make run` starts the embedded product, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 5000
# Two pytest processes, whole test files each (a file's Tryton root is built once): the suite
# waits on PostgreSQL, trytond and subprocesses much of the time. PARALLEL= runs it in one.
PARALLEL ?= -n 2 --dist loadfile

.PHONY: run test test-e2e test-security lint i18n i18n-check setup clean

$(STAMP): pyproject.toml
	@bash ops/setup/system_deps.sh run
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev,tryton]"
	@touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/managely dev --port $(PORT)

test: setup
	@bash ops/setup/system_deps.sh test
	$(BIN)/python -m managely.translations compile
	$(BIN)/python -m managely.translations check
	$(BIN)/python -m pytest -p no:cacheprovider $(PARALLEL) --ignore=tests/e2e --ignore=tests/security $(PYTEST_ARGS)
	# Schemathesis against the JSON API on a live server: no 5xx, nothing off its OpenAPI.
	$(BIN)/python -m tests.web.api_schemathesis

# Real browser journeys in English and Arabic; screenshots in var/e2e-artifacts/<lang>/.
test-e2e: setup
	@bash ops/setup/system_deps.sh e2e
	$(BIN)/python -m pytest -p no:cacheprovider tests/e2e $(PYTEST_ARGS)

# Every route x method x visitor, CSRF, rate limits, cookies, headers, injection, served files.
test-security: setup
	@bash ops/setup/system_deps.sh test
	$(BIN)/python -m pytest -p no:cacheprovider $(PARALLEL) tests/security $(PYTEST_ARGS)

lint: setup
	@bash ops/setup/system_deps.sh lint
	$(BIN)/ruff check src tests bench
	@if command -v shellcheck >/dev/null; then shellcheck -S warning $$(find ops -name '*.sh') .ci/run; \
	else echo "lint: shellcheck not installed (apt-get install shellcheck)"; exit 1; fi

# Extract new strings, merge them into the catalogs, compile. Then translate the Arabic ones.
i18n: setup
	$(BIN)/python -m managely.translations all

i18n-check: setup
	$(BIN)/python -m managely.translations check

clean:
	rm -rf $(VENV) var .pytest_cache
