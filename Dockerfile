# The alertplane image (operator, `serve`, CLI). It needs the real promtool and amtool:
# every rendered file is checked with them before it is written.
# Not built in this repository's CI (no container engine there); the chart's tests check
# the manifests that run it, and the package itself is tested on the same Debian release.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends prometheus prometheus-alertmanager \
 && rm -rf /var/lib/apt/lists/* \
 && promtool --version && amtool --version

WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip install --no-cache-dir . && rm -rf /src

# uid 10001 matches the chart's securityContext; the root filesystem is read-only there,
# so the only writable places are /tmp, /var/lib/alertplane and the --out directory.
RUN useradd --uid 10001 --home-dir /var/lib/alertplane --create-home alertplane
USER 10001
WORKDIR /var/lib/alertplane
ENTRYPOINT ["alertplane"]
CMD ["operator"]
