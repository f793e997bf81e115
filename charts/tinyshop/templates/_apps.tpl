{{/*
The three Deployments of the ONE Functions image and what makes each of them one app:
- functions: the host's allow-list (AzureFunctionsJobHost__functions__N, host.json "functions");
  exactly the names function_app.py registers for the app (tests/deploy checks it against
  app.get_functions()).
- hostId: AzureFunctionsWebHost__hostid, fixed and distinct (<= 32 chars). Outside App Service
  the host derives its id from the machine (pod) name, so without it every replica would be its
  own host: each orders replica would take its own timer lease and run the outbox sweep, and
  the apps' blob state in the shared storage account could not be told apart.
- probePath: the app's own health routes, served through the host (readiness checks the app's
  dependencies; /admin/host/ping answers 200 even when the Python worker is broken).

Sources for the host settings used here:
- allow-list: host.json "functions" (Azure Functions host.json reference, MicrosoftDocs
  azure-docs articles/azure-functions/functions-host-json.md), set through the
  AzureFunctionsJobHost__ prefix that overrides host.json from app settings (same page).
- identity-based connections: <CONNECTION>__accountName / __fullyQualifiedNamespace with
  __credential=managedidentity and __clientId ("Connecting to host storage with an identity",
  Azure Functions reference). The host resolves them with Microsoft.Extensions.Azure
  (Azure/azure-sdk-for-net sdk/extensions/Microsoft.Extensions.Azure/src/Internal/
  ClientFactory.cs: credential "managedidentity" -> new ManagedIdentityCredential(clientId)),
  and Azure.Identity's ManagedIdentityCredential tries TokenExchangeManagedIdentitySource
  first, i.e. the workload identity token file (sdk/identity/Azure.Identity/src/
  ManagedIdentityClient.cs). So the host image accepts credential=managedidentity + the
  identity's client id under AKS workload identity; no secret, no connection string.
- port and writable paths: the base image's Dockerfile (Azure/azure-functions-docker
  host/4/bookworm/python/python312/python312.Dockerfile: ASPNETCORE_URLS=http://+:80,
  HOME=/home, AzureWebJobsScriptRoot=/home/site/wwwroot, /FuncExtensionBundles).
*/}}
{{- define "tinyshop.functionApps" -}}
catalog:
  hostId: tinyshop-catalog
  functions: [catalog_products, catalog_ops]
  probePath: /catalog/health
  database: catalog
orders:
  hostId: tinyshop-orders
  functions: [orders_cart, orders_checkout, orders_history, orders_outbox_sweep]
  probePath: /orders/health
  database: orders
worker:
  hostId: tinyshop-worker
  # The Service Bus trigger starts the fulfil_order orchestration (durable client binding);
  # the orchestrator and its activities run in the same host; the two admin HTTP functions
  # (status, purge) have no Service and no Ingress: operators reach them with
  # `kubectl port-forward` (docs/aks.md, "Durable task hub").
  functions:
    - worker_order_placed
    - fulfil_order
    - record_timeline_event
    - send_confirmation_email
    - worker_orchestration_status
    - worker_orchestrations_purge
  probePath: ""
  database: ""
{{- end -}}

{{/* App-specific settings of the Functions apps (names from functions/<app>/settings.py). */}}
{{- define "tinyshop.env.catalog" -}}
- name: CATALOG_DATABASE_URL
  value: {{ include "tinyshop.databaseUrl" (dict "root" .root "database" "catalog") | quote }}
{{ include "tinyshop.pgPassword" "catalog" }}
{{- end -}}

{{- define "tinyshop.env.orders" -}}
{{- $v := .root.Values -}}
- name: ORDERS_DATABASE_URL
  value: {{ include "tinyshop.databaseUrl" (dict "root" .root "database" "orders") | quote }}
{{ include "tinyshop.pgPassword" "orders" }}
- name: ORDERS_CATALOG_URL
  value: {{ printf "http://catalog.%s.svc.cluster.local" $v.namespace | quote }}
- name: ORDERS_OIDC_ISSUER
  value: {{ $v.entra.issuer | quote }}
- name: ORDERS_OIDC_AUDIENCE
  value: {{ $v.entra.apiClientId | quote }}
# The Functions host runs the outbox sweep as the timer function orders_outbox_sweep (and runs
# no ASGI lifespan), so the in-process sweeper of the uvicorn mode stays off.
- name: ORDERS_OUTBOX_SWEEP_SECONDS
  value: "0"
- name: EVENT_BUS
  value: servicebus
- name: EVENT_BUS_QUEUE
  value: {{ $v.azure.serviceBus.queue | quote }}
# The publisher (azure-servicebus + DefaultAzureCredential = the workload identity) reads the
# same setting name as the trigger's identity-based connection.
- name: ServiceBusConnection__fullyQualifiedNamespace
  value: {{ $v.azure.serviceBus.fullyQualifiedNamespace | quote }}
- name: COSMOS_ENDPOINT
  value: {{ $v.azure.cosmos.endpoint | quote }}
- name: COSMOS_DATABASE
  value: {{ $v.azure.cosmos.database | quote }}
- name: COSMOS_CONTAINER
  value: {{ $v.azure.cosmos.container | quote }}
{{- end -}}

{{- define "tinyshop.env.worker" -}}
{{- $v := .root.Values -}}
# %EVENT_BUS_QUEUE% in the trigger's queueName resolves from this setting.
- name: EVENT_BUS_QUEUE
  value: {{ $v.azure.serviceBus.queue | quote }}
# The trigger's identity-based connection "ServiceBusConnection" (Service Bus extension):
# __fullyQualifiedNamespace + __credential=managedidentity + __clientId. The host's
# ManagedIdentityCredential uses workload identity when the webhook has injected
# AZURE_FEDERATED_TOKEN_FILE (Azure.Identity TokenExchangeManagedIdentitySource).
- name: ServiceBusConnection__fullyQualifiedNamespace
  value: {{ $v.azure.serviceBus.fullyQualifiedNamespace | quote }}
- name: ServiceBusConnection__credential
  value: managedidentity
- name: ServiceBusConnection__clientId
  value: {{ $v.identities.worker | quote }}
- name: COSMOS_ENDPOINT
  value: {{ $v.azure.cosmos.endpoint | quote }}
- name: COSMOS_DATABASE
  value: {{ $v.azure.cosmos.database | quote }}
- name: COSMOS_CONTAINER
  value: {{ $v.azure.cosmos.container | quote }}
# Keys the pseudonyms of users in its logs (functions/shared/pseudonym.py; without it none).
- name: LOG_PSEUDONYM_KEY
  valueFrom:
    secretKeyRef:
      name: worker-secrets
      key: LOG_PSEUDONYM_KEY
{{ include "tinyshop.env.durable" .root }}
{{- end -}}

{{/*
The worker's Durable Functions task hub (host.json extensions.durableTask: hubName
%DURABLE_TASK_HUB%, storageProvider mssql with connectionStringName DURABLE_SQL_CONNECTION).
- DURABLE_SQL_CONNECTION: a Microsoft.Data.SqlClient connection string without any secret.
  `Authentication=Active Directory Managed Identity` with `User Id=<client id>` makes SqlClient
  use Azure.Identity's ManagedIdentityCredential for that user-assigned identity (SqlClient,
  "Using Active Directory Managed Identity authentication",
  https://learn.microsoft.com/sql/connect/ado-net/sql/azure-active-directory-authentication),
  which under AKS workload identity exchanges the projected ServiceAccount token for the
  identity's Entra token (Azure.Identity ManagedIdentityClient: TokenExchangeManagedIdentitySource
  first, as for AzureWebJobsStorage above; its TryCreate takes `options.ClientId ?? AZURE_CLIENT_ID`,
  so the User Id wins over the webhook's AZURE_CLIENT_ID of the worker's own identity,
  Azure/azure-sdk-for-net sdk/identity/Azure.Identity/src/TokenExchangeManagedIdentitySource.cs).
  The identity is `durable` (identities.durable), not
  the worker's own: it is federated with this ServiceAccount and with KEDA's operator, so the
  host and KEDA's `mssql` trigger are the same database user, whose name is the task hub
  (TaskHubMode 1: the task hub is USER_NAME(); docs/infra.md). `Active Directory Workload
  Identity` would say the same more directly but needs SqlClient >= 5.2 inside the extension
  bundle. Encrypt=True with certificate validation; port 1433 through the private endpoint
  (the server's connection policy is Proxy).
- DURABLE_TASK_HUB: host.json hubName.
- WEBSITE_HOSTNAME: Durable's HTTP management APIs build their URLs from it, and outside App
  Service nothing sets it; the value is host:port without a scheme, as Durable's docs ask for a
  host run outside Azure ("set the environment variable WEBSITE_HOSTNAME to localhost:<port>",
  MicrosoftDocs azure-docs articles/azure-functions/durable/durable-functions-external-events.md;
  Azure/azure-functions-durable-js#28). The host listens on 8080 in the pod (Dockerfile
  ASPNETCORE_URLS), and only `kubectl port-forward` reaches the admin functions, so the pod's
  own loopback is right.
*/}}
{{- define "tinyshop.env.durable" -}}
{{- $d := .Values.azure.durableSql -}}
- name: DURABLE_SQL_CONNECTION
  value: {{ printf "Server=tcp:%s,1433;Database=%s;Authentication=Active Directory Managed Identity;User Id=%s;Encrypt=True;TrustServerCertificate=False;Connect Timeout=30" $d.server $d.database .Values.identities.durable | quote }}
- name: DURABLE_TASK_HUB
  value: {{ $d.taskHub | quote }}
- name: WEBSITE_HOSTNAME
  value: "127.0.0.1:8080"
{{- end -}}
