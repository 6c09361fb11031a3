# The two commands of the README:
#   make run    set up, build + sign the sample bundle with a dev key, run the gateway (dev mode, echo provider)
#   make test   set up, then run the whole test suite (starts PostgreSQL and Redis if needed)
#   make check  lint + format check + mypy strict + the import rules (CI runs it before the tests)
# Also: make bench (issue 3 benchmark), make lint, make typecheck, make policy-test.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?= -n 2

.PHONY: setup run test bench check lint format-check typecheck import-rules policy-test services clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@# setuptools prints an "Editable installation" notice for every editable install: noise.
	PYTHONWARNINGS='ignore:Editable installation:Warning' $(BIN)/pip install --quiet -e '.[dev]'
	@# Tests only: real OPA (its Go engine as a library) is the reference the embedded engine is
	@# checked against (tests/policy). The wheel declares Python >= 3.14 but is a ctypes
	@# wrapper that loads on any 3.x, so pip must be told to ignore that (docs/policy-guide.md).
	$(BIN)/pip install --quiet --no-deps --ignore-requires-python opa-golib-python-bindings==0.4.4
	touch $(STAMP)

setup: $(STAMP)

# The signed path, even in dev: dev-bundle.sh builds and signs .skein/bundle.tar.gz with a dev
# key (first run, or when policies/ or bundles/ are newer); the gateway verifies it against the
# public key and, in dev mode, rebuilds and re-signs it on every edit (docs/bundles.md).
run: setup
	BIN=$(BIN) deploy/scripts/dev-bundle.sh
	SKEIN_DEV__ENABLED=$${SKEIN_DEV__ENABLED:-true} \
	SKEIN_BUNDLE__SOURCE=file \
	SKEIN_BUNDLE__PATH=.skein/bundle.tar.gz \
	SKEIN_BUNDLE__VERIFY=true \
	SKEIN_BUNDLE__TRUSTED_KEYS__DEV=.skein/keys/dev.pub.pem \
	SKEIN_BUNDLE__DEV_SIGNING_KEY=.skein/keys/dev.pem \
	$(BIN)/skein serve

services:
	deploy/scripts/ensure-services.sh

test: setup services
	$(BIN)/pytest $(PYTEST_ARGS)

bench: setup
	bench/run.sh

SOURCES := gateway guard signing tests bench

check: lint format-check typecheck import-rules

lint: setup
	$(BIN)/ruff check $(SOURCES)

format-check: setup
	$(BIN)/ruff format --check $(SOURCES)

typecheck: setup
	$(BIN)/mypy

import-rules: setup
	$(BIN)/pytest -q -p no:randomly tests/test_architecture.py

policy-test: setup
	$(BIN)/skein policy test

clean:
	rm -rf $(VENV) .skein .pytest_cache .mypy_cache .ruff_cache
