# The alertplane image (operator, `serve`, CLI). It needs the real promtool and amtool:
# every rendered file is checked with them before it is written.
#
# The base is Debian bookworm's own slim image, not python:*: Debian's python3 is 3.11 (the
# version the product is tested on, with the same Debian promtool/amtool the test suite
# runs), and the base can be made locally with debootstrap where no registry is reachable.
# `make image` (hack/image/build.sh) does that and builds this file with buildah; anywhere
# else `docker build .` / `podman build .` pull the same base from Docker Hub.
FROM docker.io/library/debian:bookworm-slim AS tools
ARG DEBIAN_FRONTEND=noninteractive
# promtool and amtool from Debian's packages. Only these two binaries (and their copyright
# files) go into the image: the packages also carry the Prometheus and Alertmanager servers
# (~75 MB), which alertplane never runs. Both link only libc.
RUN apt-get update \
 && apt-get install -y --no-install-recommends prometheus prometheus-alertmanager \
 && promtool --version && amtool --version

FROM docker.io/library/debian:bookworm-slim AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv
WORKDIR /src
# The optional build secret `ca-bundle` is a CA bundle for pip, for builds behind an
# inspecting HTTPS proxy (hack/image/build.sh passes the machine's); it is never stored in
# a layer. Without it pip trusts Debian's CA certificates.
# --only-binary: every dependency must come as a wheel, so the build needs (and leaves) no
# compiler; a dependency without a cp311 manylinux wheel fails here, not at run time.
ARG PIP="/opt/alertplane/bin/pip install --no-cache-dir --disable-pip-version-check --only-binary=:all:"
# Dependencies first, from pyproject.toml alone (an empty package stands in for the code),
# so that a change to the code reuses this layer instead of downloading them again. The
# stub's build/ goes too: setuptools would reuse its (newer) copy of __init__.py.
# constraints.txt: the versions the suite passed with (Makefile `install` uses it too).
COPY pyproject.toml README.md constraints.txt ./
RUN --mount=type=secret,id=ca-bundle \
    if [ -s /run/secrets/ca-bundle ]; then export PIP_CERT=/run/secrets/ca-bundle; fi \
 && python3 -m venv /opt/alertplane \
 && mkdir -p operator/alertplane && touch operator/alertplane/__init__.py \
 && $PIP -c constraints.txt . && rm -rf operator build
COPY operator ./operator
# pip and setuptools are removed from the venv afterwards: nothing installs at run time.
# swagger-ui-py also ships Swagger Editor and source maps (~20 MB); /docs serves only
# Swagger UI's bundle, CSS and icons from that directory (api/docs.py).
RUN --mount=type=secret,id=ca-bundle \
    if [ -s /run/secrets/ca-bundle ]; then export PIP_CERT=/run/secrets/ca-bundle; fi \
 && $PIP --no-deps --force-reinstall . \
 && /opt/alertplane/bin/pip uninstall -y -q pip setuptools \
 && rm -f /opt/alertplane/lib/python3.11/site-packages/swagger_ui/static/swagger-editor* \
          /opt/alertplane/lib/python3.11/site-packages/swagger_ui/static/*.map \
 && /opt/alertplane/bin/alertplane --version

FROM docker.io/library/debian:bookworm-slim
ARG DEBIAN_FRONTEND=noninteractive
# python3 without -venv or pip: the venv below only links to /usr/bin/python3 (Debian's
# 3.11, as in the build stage). ca-certificates: what python:*-slim had, for HTTPS to
# servers with public certificates (aiohttp and the ssl module read the system store).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log
COPY --from=tools /usr/bin/promtool /usr/bin/amtool /usr/bin/
COPY --from=tools /usr/share/doc/prometheus/copyright /usr/share/doc/prometheus/copyright
COPY --from=tools /usr/share/doc/prometheus-alertmanager/copyright \
     /usr/share/doc/prometheus-alertmanager/copyright
COPY --from=build /opt/alertplane /opt/alertplane

# uid 10001 matches the chart's securityContext; the root filesystem is read-only there,
# so the only writable places are /tmp, /var/lib/alertplane and the --out directory.
# No .pyc is written at run time (read-only root): the venv's were compiled by pip.
RUN groupadd --gid 10001 alertplane \
 && useradd --uid 10001 --gid 10001 --home-dir /var/lib/alertplane --create-home \
      --shell /usr/sbin/nologin alertplane
ENV PATH=/opt/alertplane/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /var/lib/alertplane
ENTRYPOINT ["alertplane"]
CMD ["operator"]
