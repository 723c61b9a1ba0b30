# Two commands do all the set-up: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
PYTEST_WORKERS ?= 2

.PHONY: demo test lint typecheck test-sqlite test-postgresql bench clean chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/nagara demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# Browser tests (tests/web) drive the Debian chromium; install it when it is missing, with Noto
# fonts so that Malayalam, Kannada and Hindi render in screenshots (pages use system fonts).
chromium:
	test -x /usr/bin/chromium || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium)
	test -d /usr/share/fonts/truetype/noto || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fonts-noto-core)

test-sqlite: $(STAMP) chromium
	TEST_DB=sqlite $(BIN)/python -m pytest -n $(PYTEST_WORKERS)

test-postgresql: $(STAMP) chromium
	TEST_DB=postgresql $(BIN)/python -m pytest -n $(PYTEST_WORKERS)

test: lint typecheck test-sqlite test-postgresql

bench: $(STAMP)
	$(BIN)/python bench/read_endpoint.py

clean:
	rm -rf $(VENV) var
