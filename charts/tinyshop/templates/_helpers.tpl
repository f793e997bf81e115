{{/*
Shared helpers. Each app (catalog, orders, worker, ui) is addressed by its name; its Deployment,
ServiceAccount, Service and Secret carry that same name, which is the name Terraform federates
(system:serviceaccount:<namespace>:<app>).
*/}}

{{/* The namespace guard: workload identity only works in the namespace Terraform federates. */}}
{{- define "tinyshop.namespace" -}}
{{- if ne .Release.Namespace .Values.namespace -}}
{{- fail (printf "install into namespace %q (the federated one), not %q" .Values.namespace .Release.Namespace) -}}
{{- end -}}
{{- .Values.namespace -}}
{{- end -}}

{{- define "tinyshop.labels" -}}
app.kubernetes.io/name: {{ .app }}
app.kubernetes.io/part-of: tinyshop
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "tinyshop.selectorLabels" -}}
app.kubernetes.io/name: {{ .app }}
app.kubernetes.io/part-of: tinyshop
{{- end -}}

{{/* registry/repository:tag of an image key (functions | ui). */}}
{{- define "tinyshop.image" -}}
{{- $img := index .root.Values.images .image -}}
{{- printf "%s/%s:%s" .root.Values.images.registry $img.repository $img.tag -}}
{{- end -}}

{{/*
libpq URL of an app's own database; the password comes from PGPASSWORD (Key Vault). The login
is the app's own role (azure.postgres.apps.<app>.user) unless `user` is given: the migration
Jobs pass the administrator's (azure.postgres.admin.user).
*/}}
{{- define "tinyshop.databaseUrl" -}}
{{- $pg := .root.Values.azure.postgres -}}
{{- $user := .user | default (index $pg.apps .database).user -}}
{{- printf "postgresql://%s@%s:5432/%s?sslmode=%s" $user $pg.host .database $pg.sslmode -}}
{{- end -}}

{{/* Pod-level security context shared by every pod: a fixed non-root uid (the images' USER). */}}
{{- define "tinyshop.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "tinyshop.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
Writable paths of the Functions host on a read-only root filesystem: /tmp, and under HOME=/home
the host's data folder (/home/data: host state and its keys, AzureWebJobsSecretStorageType=files) and log folder
(/home/LogFiles; file logging is off in the image, the host still creates the folder).
/home/site/wwwroot (the app) stays read-only from the image.
*/}}
{{- define "tinyshop.functionsWritablePaths" -}}
- {name: tmp, mountPath: /tmp}
- {name: host-data, mountPath: /home/data}
- {name: host-logs, mountPath: /home/LogFiles}
{{- end -}}

{{/* The Key Vault CSI volume of an app: mounting it is what syncs the app's Secret. */}}
{{- define "tinyshop.secretsVolume" -}}
- name: secrets-store
  csi:
    driver: secrets-store.csi.k8s.io
    readOnly: true
    volumeAttributes:
      secretProviderClass: {{ . }}
{{- end -}}

{{/* Zone spread first (survive a zone), then node spread. */}}
{{- define "tinyshop.topologySpread" -}}
- maxSkew: 1
  topologyKey: topology.kubernetes.io/zone
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "tinyshop.selectorLabels" . | nindent 6 }}
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "tinyshop.selectorLabels" . | nindent 6 }}
{{- end -}}

{{/* Settings every app shares. */}}
{{- define "tinyshop.commonEnv" -}}
- name: LOG_LEVEL
  value: {{ .root.Values.logLevel | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ .app | quote }}
{{- with .root.Values.telemetry.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- /* The endpoint is the collector's OTLP/HTTP port. The Python apps export HTTP (their
exporter's class); the Functions host's .NET exporter defaults to gRPC and takes the protocol
from this standard variable (OpenTelemetry specification, "OTLP Exporter Configuration"). */}}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: http/protobuf
{{- /* Head sampling through the standard variables, read by the Python SDK and by the
Functions host's .NET SDK (open-telemetry/opentelemetry-dotnet#5448): a parent's decision
is honoured, so a trace is kept or dropped whole across UI, host, app and worker. */}}
- name: OTEL_TRACES_SAMPLER
  value: {{ $.root.Values.telemetry.tracesSampler | quote }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ $.root.Values.telemetry.tracesSamplerArg | quote }}
{{- end }}
{{- end -}}

{{/*
PGPASSWORD from the Secret `<name>-secrets`, which the Key Vault CSI driver syncs from Key Vault:
an app's own login password, or (name `migrations`) the administrator's for the migration Jobs.
*/}}
{{- define "tinyshop.pgPassword" -}}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . }}-secrets
      key: PGPASSWORD
{{- end -}}
