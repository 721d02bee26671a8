# MLflow tracking server on PostgreSQL, serving the artifacts itself from a volume.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false
RUN python -m pip install "mlflow[auth]==3.17.2" "psycopg[binary]>=3.1"
EXPOSE 5000
CMD ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000"]
