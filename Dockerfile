# The ecomlake Airflow image: Airflow 3.3.2, the project and its dbt project, installed from the
# committed lock (airflow/requirements.lock: exact versions; the upstream constraints file is not used).
# Built and run by docker-compose.yml (`make airflow-secrets && docker compose up`).
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

ARG AIRFLOW_UID=50000
RUN useradd --system --uid "${AIRFLOW_UID}" --gid 0 --create-home --home-dir /home/airflow --shell /usr/sbin/nologin airflow

WORKDIR /opt/ecomlake

# Dependencies first (the layer is reused while only the code changes).
COPY airflow/requirements.lock airflow/requirements.lock
RUN pip install --no-cache-dir --no-deps -r airflow/requirements.lock

COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir --no-deps . && pip check

COPY --chown=${AIRFLOW_UID}:0 config ./config
COPY --chown=${AIRFLOW_UID}:0 dbt_duckdb ./dbt_duckdb
COPY --chown=${AIRFLOW_UID}:0 airflow/dags ./airflow/dags
COPY --chown=${AIRFLOW_UID}:0 airflow/set_admin_password.py ./airflow/set_admin_password.py
RUN mkdir -p /opt/airflow /opt/ecomlake/data \
    && chown -R "${AIRFLOW_UID}:0" /opt/airflow /opt/ecomlake/data \
    && chmod -R g+rwX /opt/airflow /opt/ecomlake/data

ENV AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/ecomlake/airflow/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    ECOM_CONFIG_PATH=/opt/ecomlake/config/config.yml \
    ECOM_DBT_PROJECT_DIR=/opt/ecomlake/dbt_duckdb \
    ECOM_WORK_PATH=/tmp/ecomlake_work \
    DBT_TARGET_PATH=/tmp/dbt_target \
    DBT_LOG_PATH=/tmp/dbt_logs

# Never root at run time: the uid owns only AIRFLOW_HOME and the lake's data directory.
USER ${AIRFLOW_UID}:0
ENTRYPOINT ["airflow"]
CMD ["version"]
