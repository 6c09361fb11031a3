# The two commands of the README:
#   make run    set up, build + sign the sample bundle with a dev key, run the gateway (dev mode, echo provider)
#   make test   set up, then run the whole test suite (starts PostgreSQL and Redis if needed)
#   make check  lint + format check + mypy strict + the import rules (CI runs it before the tests)
# Also: make bench (issue 3 benchmark), make lint, make typecheck, make policy-test,
#   make image-test (build and run the container image), make ui-test (the /ui explorer in headless Chromium),
#   make deploy-tools (podman, runc, debootstrap, nginx, chromium),
#   make k8s-render (deploy/k8s/local.yaml from the Helm chart), make scaleout-report.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# loadscope: a module runs on one worker, in file order, its module fixtures (servers) started once.
PYTEST_ARGS ?= -n 2 --dist loadscope

.PHONY: setup run test bench check lint format-check typecheck import-rules policy-test services clean \
        image-test ui-test deploy-tools k8s-render scaleout-report

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

# Re-render deploy/k8s/local.yaml from the Helm chart (tests/test_deploy.py fails when it is stale).
k8s-render: setup
	$(BIN)/python -m tests.deploy.chart

# The scale-out figures: 3 replicas behind nginx (tests/deploy/test_scaleout.py) with a larger batch,
# written to bench/results/scaleout-<N>-<role>.json and the table in bench/results/scaleout.md.
scaleout-report: setup services
	SCALEOUT_REPORT=bench/results SCALEOUT_CALLS=$${SCALEOUT_CALLS:-600} $(BIN)/pytest tests/deploy/test_scaleout.py -q -p no:randomly -n 0
	$(BIN)/python -m tests.deploy.scaleout_report

# Debian packages the deploy checks need (podman, runc, debootstrap, nginx), installed when missing.
deploy-tools:
	deploy/image/install-tools.sh

# Build the image (deploy/image/build.sh: cached base and wheels; cold ~3 min, warm seconds) and run
# tests/deploy/test_image.py on it; without podman, the same entry point as a plain process.
image-test: setup services
	BIN=$(BIN) deploy/image/test.sh

# The /ui decision explorer in headless Chromium (Debian's chromium + chromium-driver, from
# deploy-tools) driven by selenium; screenshots of each step in $(UI_ARTIFACTS).
UI_ARTIFACTS ?= artifacts/ui
ui-test: setup services
	UI_TEST=1 UI_ARTIFACTS=$(UI_ARTIFACTS) $(BIN)/pytest tests/ui -p no:randomly -q -rs -n 0

clean:
	rm -rf $(VENV) .skein .pytest_cache .mypy_cache .ruff_cache
