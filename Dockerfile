# IC Studio for the web server and the CPU workers: `docker compose build`.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# libgomp: MXNet's OpenMP; libgl/libglib: none needed by opencv-python-headless.
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 curl && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# The versions CI tests (requirements/worker.txt: the project's dependencies and CPU MXNet), then the
# project itself without letting pip choose anything else.
COPY requirements/worker.txt requirements/
RUN pip install --require-hashes -r requirements/worker.txt
COPY pyproject.toml README.md ./
COPY classifier classifier
COPY webapp webapp
COPY workers workers
RUN pip install --no-deps .
COPY manage.py ./
COPY templates templates
COPY static static
RUN useradd --create-home icstudio && mkdir -p /data/media /data/var && chown -R icstudio /data
USER icstudio
ENV MEDIA_ROOT=/data/media ICSTUDIO_VAR=/data/var
EXPOSE 8000
CMD ["python", "-m", "uvicorn", "webapp.config.asgi:application", "--host", "0.0.0.0", "--port", "8000"]
