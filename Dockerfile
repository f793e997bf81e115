# syntax=docker/dockerfile:1
# The ONE Azure Functions image of TinyShop: catalog, orders and worker are Deployments of this
# image, each allow-listed to its own functions (charts/tinyshop, AzureFunctionsJobHost__functions__N).
#   docker build -t tinyshop/functions .          (build context = repository root)
#
# Base: the Functions host 4.x with the Python 3.12 worker (amd64). Never an `-appservice` tag:
# those run an SSH server with a well-known root password (Azure/azure-functions-docker,
# host/4/bookworm/python/python312/python312-appservice.Dockerfile). The floating `4-python3.12`
# tag follows host patch releases; pin a digest (BASE_IMAGE=...@sha256:...) for reproducible builds.
ARG BASE_IMAGE=mcr.microsoft.com/azure-functions/python:4-python3.12
FROM ${BASE_IMAGE}

# The extension bundle this base tag ships pre-extracted in /FuncExtensionBundles (the host
# downloads a bundle at start-up ONLY if host.json's range is not satisfied there, and the
# cluster's firewall blocks that CDN). Source: python312.Dockerfile of Azure/azure-functions-docker
# (EXTENSION_BUNDLE_VERSION_V4=4.20.0, host 4.1036.2). tests/deploy/test_images.py fails when
# host.json's range does not contain this version; the images workflow checks the real image:
#   docker run --rm --entrypoint ls <image> /FuncExtensionBundles/Microsoft.Azure.Functions.ExtensionBundle
#   (python3 -m deploy.bundle host.json <versions> in .github/workflows/images.yml)
# The worker's fulfilment orchestration needs the bundle's Durable Functions extension and its
# Microsoft SQL storage provider (host.json extensions.durableTask.storageProvider "mssql"): v4
# bundles list Microsoft.DurableTask.SqlServer.AzureFunctions; the workflow can check the image's
# bin/extensions.json with `python3 -m deploy.bundle --durable-mssql -` (deploy/bundle.py).
ARG EXTENSION_BUNDLE_VERSION=4.20.0
LABEL org.opencontainers.image.title="tinyshop-functions" \
      com.tinyshop.extension-bundle-version="${EXTENSION_BUNDLE_VERSION}"

# The base image sets AzureWebJobsScriptRoot=/home/site/wwwroot, HOME=/home and
# ASPNETCORE_URLS=http://+:80. We change what a non-root, read-only pod needs:
# - ASPNETCORE_URLS: port 80 needs root (or CAP_NET_BIND_SERVICE); 8080 needs nothing.
# - FileLoggingMode=Never: the host would write log files under /home/LogFiles; logs go to stdout.
# - Console logging on: the pod's stdout is the log (Container Insights / kubectl logs).
# - PYTHONDONTWRITEBYTECODE: the code is byte-compiled below; no .pyc writes at run time.
# - FUNCTIONS_WORKER_PROCESS_COUNT stays the default (1): replicas, not processes, add capacity.
# - PYTHON_ENABLE_OPENTELEMETRY: the Python worker makes each invocation's host span the
#   current OpenTelemetry context, so the app's spans and the host's (host.json telemetryMode
#   OpenTelemetry, both exported over OTLP) share one trace; docs/operations.md, "Traces".
ENV ASPNETCORE_URLS=http://+:8080 \
    PYTHON_ENABLE_OPENTELEMETRY=true \
    AzureFunctionsJobHost__Logging__FileLoggingMode=Never \
    AzureFunctionsJobHost__Logging__Console__IsEnabled=true \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# libltdl7: the ODBC driver mssql-python bundles loads it (the durable-sql-grants Job logs in to
# Azure SQL with it; without it: "Failed to load the driver"). Pinned to bookworm's version, the
# base image's Debian; tests/deploy/test_sql_grants.py dials a server with the real driver.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libltdl7=2.4.7-7~deb12u1 \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first (this layer is reused while only code changes), from the hash lock:
# --require-hashes refuses anything not pinned by hash, --no-deps installs exactly the lock.
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --require-hashes --no-deps -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Only the Functions app: function_app.py, host.json and the functions/ package. .dockerignore
# keeps tests, dev stand-ins, the UI, docs and platform code out of the build context.
COPY host.json function_app.py /home/site/wwwroot/
COPY functions /home/site/wwwroot/functions
RUN python -m compileall -q /home/site/wwwroot/functions /home/site/wwwroot/function_app.py

# A fixed, numeric, unprivileged uid/gid, so the Pod's runAsNonRoot can verify it and its
# emptyDirs are writable (fsGroup). The code stays root-owned: the app cannot change itself.
# Paths the host writes at run time become emptyDirs in the Pod (charts/tinyshop):
# /tmp, /home/data (host state and its keys) and /home/LogFiles.
USER 10001:10001
EXPOSE 8080

# The host binary itself, not the base image's start script: that script only adds CA
# certificates (a root-only write into /etc) before it starts this same binary.
CMD ["/azure-functions-host/Microsoft.Azure.WebJobs.Script.WebHost"]
