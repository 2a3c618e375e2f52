# alertplane — the two commands a user needs are `make install` and `make test`.
PYTHON ?= python3
PYTEST_ARGS ?=

.PHONY: install test lint golden-update bench deps run run-ports

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

lint:  ## style, types, the layering (pyproject.toml [tool.importlinter]) and the size limits
	ruff check operator tests benchmarks hack/shape.py
	ruff format --check operator tests benchmarks hack/shape.py
	mypy && mypy hack/shape.py
	PYTHONPATH=operator lint-imports
	$(PYTHON) hack/shape.py

test: lint  ## everything: lint, types, unit, golden, real promtool/amtool
	$(PYTHON) -m pytest -n 2 $(PYTEST_ARGS)

golden-update:  ## regenerate tests/golden/ (review the diff like code)
	$(PYTHON) -m pytest tests/test_golden.py --update-golden

bench:
	$(PYTHON) benchmarks/bench_core.py
