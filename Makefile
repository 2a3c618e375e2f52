# alertplane — the two commands a user needs are `make install` and `make test`.
PYTHON ?= python3
PYTEST_ARGS ?=

.PHONY: install test test-fast lint golden-update bench deps run run-ports

# Debian packages (promtool, amtool, PostgreSQL, ...; needs root), then the test API server
# (kube-apiserver, etcd, kubectl) and helm, built from Go modules and cached.
deps:
	bash .ci/install-deps
	bash hack/k8s/build.sh >/dev/null
	bash hack/helm/build.sh >/dev/null

run: run-ports deps install  ## the local stack: Prometheus, Alertmanager, demo exporter, capture, serve
	$(PYTHON) -m alertplane.stack.local --state .run

run-ports:  ## the demo's fixed ports are free (before the slow steps; standard library only)
	PYTHONPATH=operator $(PYTHON) -m alertplane.stack.ports

install:  ## the package with its test extras, editable
	$(PYTHON) -m pip install -q -e '.[test]'

lint:
	ruff check operator tests benchmarks
	ruff format --check operator tests benchmarks
	mypy

test: lint  ## everything (CI): lint, types, then every tier (tests/unit, golden, integration, e2e, adversarial)
	$(PYTHON) -m pytest -n 2 $(PYTEST_ARGS)

test-fast:  ## the in-process tier and the goldens (tests/unit, tests/golden): about a minute
	$(PYTHON) -m pytest -n 2 tests/unit tests/golden $(PYTEST_ARGS)

golden-update:  ## regenerate tests/golden/ (review the diff like code)
	$(PYTHON) -m pytest tests/golden/test_golden.py --update-golden

bench:
	$(PYTHON) benchmarks/bench_core.py
