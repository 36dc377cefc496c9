# The image of the project's own compose services (stream, aggregator): the
# package and the default config, nothing else. Build: docker compose build
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The metadata first and the sources after, so that an edit of the code does
# not invalidate the layer cache of anything before it. README.md* matches
# nothing rather than failing when the file is absent.
COPY pyproject.toml README.md* ./
COPY cctwin ./cctwin
COPY simulator ./simulator
COPY aggregator ./aggregator
RUN pip install .

COPY config ./config

# Services run without root.
RUN useradd --create-home --uid 10001 twin
USER twin

ENTRYPOINT ["cctwin"]
CMD ["--help"]
