{{/* The chart name, or nameOverride. */}}
{{- define "ganserve.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* <release>-<chart>, or the release alone when it already contains the chart name; 63 characters at most (DNS labels). */}}
{{- define "ganserve.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* A component's object name: (dict "ctx" $ "component" "gateway"). */}}
{{- define "ganserve.componentName" -}}
{{- printf "%s-%s" (include "ganserve.fullname" .ctx | trunc 50 | trimSuffix "-") .component }}
{{- end }}

{{- define "ganserve.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: stable across upgrades, so they never include the version. */}}
{{- define "ganserve.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ganserve.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "ganserve.labels" -}}
helm.sh/chart: {{ include "ganserve.chart" .ctx }}
{{ include "ganserve.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: ganserve
{{- end }}

{{- define "ganserve.gatewayImage" -}}
{{- printf "%s:%s" .Values.gateway.image.repository (default .Chart.AppVersion .Values.gateway.image.tag) }}
{{- end }}

{{/* The worker image: built on the gateway image, so by default it takes the gateway's tag (the same code and models). */}}
{{- define "ganserve.workerImage" -}}
{{- printf "%s:%s" .Values.worker.image.repository (default (default .Chart.AppVersion .Values.gateway.image.tag) .Values.worker.image.tag | toString) }}
{{- end }}

{{/* The image the repository is copied from: the gateway image unless modelRepository.image says otherwise. */}}
{{- define "ganserve.repositoryImage" -}}
{{- if .Values.modelRepository.image.repository }}
{{- printf "%s:%s" .Values.modelRepository.image.repository (default .Chart.AppVersion .Values.modelRepository.image.tag) }}
{{- else }}
{{- include "ganserve.gatewayImage" . }}
{{- end }}
{{- end }}

{{- define "ganserve.tritonImage" -}}
{{- printf "%s:%s" .Values.triton.image.repository .Values.triton.image.tag }}
{{- end }}

{{- define "ganserve.redisImage" -}}
{{- printf "%s:%s" .Values.redis.image.repository .Values.redis.image.tag }}
{{- end }}

{{- define "ganserve.tritonUrl" -}}
{{- if .Values.triton.enabled }}
{{- printf "%s:8001" (include "ganserve.componentName" (dict "ctx" . "component" "triton")) }}
{{- else }}
{{- required "triton.externalUrl is required when triton.enabled is false" .Values.triton.externalUrl }}
{{- end }}
{{- end }}

{{- define "ganserve.redisCacheUrl" -}}
{{- if .Values.redis.cache.externalUrl }}
{{- .Values.redis.cache.externalUrl }}
{{- else }}
{{- printf "redis://%s:6379/0" (include "ganserve.componentName" (dict "ctx" . "component" "redis-cache")) }}
{{- end }}
{{- end }}

{{- define "ganserve.redisStoreUrl" -}}
{{- if .Values.redis.store.externalUrl }}
{{- .Values.redis.store.externalUrl }}
{{- else }}
{{- printf "redis://%s:6379/0" (include "ganserve.componentName" (dict "ctx" . "component" "redis-store")) }}
{{- end }}
{{- end }}

{{- define "ganserve.keysSecretName" -}}
{{- if .Values.apiKeys.keysJson }}
{{- include "ganserve.componentName" (dict "ctx" . "component" "keys") }}
{{- else }}
{{- required "apiKeys.existingSecret or apiKeys.keysJson is required" .Values.apiKeys.existingSecret }}
{{- end }}
{{- end }}

{{/* The PVC that holds the model repository (and, optionally, the gateway's models). */}}
{{- define "ganserve.repositoryClaim" -}}
{{- default (include "ganserve.componentName" (dict "ctx" . "component" "model-repository")) .Values.modelRepository.persistentVolumeClaim.existingClaim }}
{{- end }}

{{/* Non-root, nothing gained at exec, no capabilities, the runtime's seccomp profile: every container. */}}
{{- define "ganserve.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}
