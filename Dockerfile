# The cascade-sync code location image: the Dagster gRPC code server (the default command), the
# run workers the K8sRunLauncher starts from it, and the webhook receiver
# (`cascade-sync webhooks serve --host 0.0.0.0 --port 8710`, see deploy/k8s/receiver.yaml).
#
#   docker build -t REGISTRY/cascade-sync:0.4.0 .
#
# Only the product goes in: pyproject.toml, README.md (the package's readme), requirements.lock (the
# pinned versions, used as pip constraints) and the cascade_sync_pipeline package. Never the sandbox
# (sandbox/: emulators and a seeded company), the tests, the benchmarks or any config with data in it;
# the deployment's config comes from a ConfigMap mounted at run time (deploy/k8s/config.yaml).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# A fixed, unprivileged uid/gid, so the Kubernetes securityContext (runAsUser/fsGroup 10001) and the
# ownership of the warehouse volume can name it.
RUN groupadd --system --gid 10001 cascade \
    && useradd --system --uid 10001 --gid 10001 --home-dir /home/cascade --create-home \
       --shell /usr/sbin/nologin cascade \
    && mkdir -p /opt/dagster/dagster_home \
    && chown 10001:10001 /opt/dagster/dagster_home
# DAGSTER_HOME where the Helm chart puts it (global.dagsterHome, default /opt/dagster/dagster_home): the
# chart mounts the instance's dagster.yaml into it as a single file, so the directory must already exist
# and belong to the unprivileged user, or Dagster could not write there.
ENV DAGSTER_HOME=/opt/dagster/dagster_home

WORKDIR /build
COPY pyproject.toml README.md requirements.lock ./
COPY cascade_sync_pipeline/ ./cascade_sync_pipeline/

# The product with its pinned dependencies, plus the two Dagster libraries a Kubernetes deployment needs
# (PostgreSQL instance storage, the K8sRunLauncher); their versions are the ones released with
# dagster 1.13.27, which requirements.lock pins. One resolve, so nothing can drift from the lock.
RUN pip install --no-cache-dir -c requirements.lock . \
        dagster-postgres==0.29.27 \
        dagster-k8s==0.29.27 \
    && rm -rf /build

USER 10001:10001
WORKDIR /home/cascade

EXPOSE 4000 8710

# The code location's gRPC server; the Helm chart runs `dagster api grpc` with the same module
# (dagsterApiGrpcArgs in deploy/helm/values.yaml). The receiver Deployment overrides the command.
CMD ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", "4000", "-m", "cascade_sync_pipeline.definitions"]
