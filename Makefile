# alertplane — the two commands: `make run` (the demo stack) and `make test` (the suite).
# Each installs what it needs first; every setup step is idempotent and skips what is present.
PYTHON ?= python3
PYTEST_ARGS ?=
# make run's state directory: database, rendered config, logs, captured notifications, env
RUN_STATE ?= .run
# e.g. --free-ports: no fixed port, so several stacks can run at once (the newcomer test)
RUN_ARGS ?=

.PHONY: install install-demo test test-fast lint golden-update bench deps deps-demo run run-ports image

# Debian packages (promtool, amtool, PostgreSQL, buildah, ...; needs root), then, in parallel,
# the test API server (kube-apiserver, etcd, kubectl), helm, and prometheus-operator with the
# Alertmanager and amtool it targets, built from Go modules and cached, and the container image
# (`make image`; tests/integration/test_image.py runs it) (.ci/build-tools).
deps:
	bash .ci/install-deps
	bash .ci/build-tools

deps-demo:  ## what the demo needs: Debian prometheus + prometheus-alertmanager
	bash .ci/install-deps --demo >/dev/null

run: run-ports deps-demo install-demo  ## the local stack: Prometheus, Alertmanager, demo exporter, capture, serve
	$(PYTHON) -m alertplane.stack.local --state $(RUN_STATE) $(RUN_ARGS)

run-ports:  ## the demo's fixed ports are free (before the slow steps; standard library only)
	PYTHONPATH=operator $(PYTHON) -m alertplane.stack.ports $(RUN_ARGS)

# pip only when something is missing (hack/installed.py says what): `pip install -e` takes
# seconds even when nothing changed.
install:  ## the package with its test extras, editable
	@$(PYTHON) hack/installed.py test || $(PYTHON) -m pip install -q -c constraints.txt -e '.[test]'

install-demo:  ## the package with what the demo needs, editable
	@$(PYTHON) hack/installed.py demo || $(PYTHON) -m pip install -q -c constraints.txt -e '.[demo]'

lint:  ## style, types, the layering (pyproject.toml [tool.importlinter]) and the size limits
	ruff check operator tests benchmarks hack/shape.py
	ruff format --check operator tests benchmarks hack/shape.py
	mypy && mypy hack/shape.py
	PYTHONPATH=operator lint-imports
	$(PYTHON) hack/shape.py

test: deps install lint  ## everything: lint, types, unit, golden, integration, e2e
	$(PYTHON) -m pytest -n 2 $(PYTEST_ARGS)

test-fast:  ## the in-process tier and the goldens (tests/unit, tests/golden): about a minute
	$(PYTHON) -m pytest -n 2 tests/unit tests/golden $(PYTEST_ARGS)

golden-update:  ## regenerate tests/golden/ (review the diff like code)
	$(PYTHON) -m pytest tests/golden --update-golden

# The container image, built from the Dockerfile with buildah on a Debian base made with
# debootstrap (no registry needed), tagged as the chart's default image; run it with
# hack/image/podman. Needs root. Cached: a warm build with nothing changed takes seconds.
image:  ## the image the chart names (ghcr.io/alertplane/alertplane:<appVersion>)
	bash hack/image/build.sh >/dev/null

bench:
	$(PYTHON) benchmarks/bench_core.py
