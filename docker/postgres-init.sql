-- One server, two databases: the service's (owned by the compose user) and MLflow's.
CREATE DATABASE mlflow;
