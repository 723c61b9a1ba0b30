# Two commands do all the set-up: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
PYTEST_WORKERS ?= 2

.PHONY: demo test lint typecheck test-sqlite test-postgresql bench clean chromium pdflibs test-deps-certificates

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

demo: $(STAMP) pdflibs
	$(BIN)/nagara demo

# lint-imports: the layers contract in pyproject.toml ([tool.importlinter]); tests/test_layers.py finds import cycles.
lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports --no-logo

typecheck: $(STAMP)
	$(BIN)/mypy

# Certificates: Digital Bazaar's verifier (npm ci, from package-lock.json) and pdftoppm for the QR test.
CERT_JS := tests/certificates/js
test-deps-certificates: $(CERT_JS)/node_modules/.package-lock.json
	command -v pdftoppm >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils)

$(CERT_JS)/node_modules/.package-lock.json: $(CERT_JS)/package-lock.json
	cd $(CERT_JS) && npm ci --no-audit --no-fund
	touch $@

# Browser tests (tests/web) drive the Debian chromium; install it when it is missing, with Noto
# fonts so that Malayalam, Kannada and Hindi render in screenshots (pages use system fonts).
chromium:
	test -x /usr/bin/chromium || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium)
	test -d /usr/share/fonts/truetype/noto || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fonts-noto-core)

# Receipts are PDFs made by WeasyPrint (Pango); the receipt tests read them back with poppler's pdftotext.
pdflibs:
	ldconfig -p | grep -q libpango-1.0 || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0)
	test -x /usr/bin/pdftotext || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends poppler-utils)

test-sqlite: $(STAMP) chromium pdflibs test-deps-certificates
	TEST_DB=sqlite $(BIN)/python -m pytest -n $(PYTEST_WORKERS)

test-postgresql: $(STAMP) chromium pdflibs test-deps-certificates
	TEST_DB=postgresql $(BIN)/python -m pytest -n $(PYTEST_WORKERS)

test: lint typecheck test-sqlite test-postgresql

bench: $(STAMP)
	$(BIN)/python bench/read_endpoint.py
	$(BIN)/python bench/applications.py
	$(BIN)/python bench/certificates.py

clean:
	rm -rf $(VENV) var
