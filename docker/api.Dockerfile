# Slim API image: FastAPI + SQLAlchemy + the ablation specs. No CUDA: the control plane only
# validates configs (trainer.config imports without torch); a CPU torch wheel satisfies the
# package's dependency metadata without the CUDA libraries.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN python -m pip install --index-url https://download.pytorch.org/whl/cpu torch==2.14.1 torchvision==0.29.1
COPY pyproject.toml constraints.txt README.md ./
COPY trainer ./trainer
COPY ablations ./ablations
COPY service ./service
RUN python -m pip install -c constraints.txt .

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["ablate", "serve", "--host", "0.0.0.0", "--port", "8000"]
