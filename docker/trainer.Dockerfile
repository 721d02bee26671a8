# GPU image: the Ray head, the Ray GPU workers and the dispatcher all run this.
# A CUDA PyTorch base; the project and its pinned dependencies are installed on top, keeping the
# base's torch (constraints.txt pins the same release).
ARG BASE_IMAGE=pytorch/pytorch:2.14.1-cuda13.0-cudnn9-runtime
FROM ${BASE_IMAGE}

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    RAY_USAGE_STATS_ENABLED=0 \
    RAY_AUTH_MODE=disabled

WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY trainer ./trainer
COPY ablations ./ablations
COPY service ./service
COPY configs ./configs
RUN python -m pip install -c constraints.txt .

# Ray GCS, client server, dashboard.
EXPOSE 6379 10001 8265
CMD ["ablate", "dispatcher"]
