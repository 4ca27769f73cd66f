{{/* The chart's name. */}}
{{- define "imageshare-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: the release name, with the chart's name unless it contains it. */}}
{{- define "imageshare-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "imageshare-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "imageshare-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the manager's pods. */}}
{{- define "imageshare-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "imageshare-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
control-plane: controller-manager
{{- end }}

{{/* The manager's service account. */}}
{{- define "imageshare-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "imageshare-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The manager's rules, as controller-gen generates them (files/rbac, synced by make chart-sync). */}}
{{- define "imageshare-operator.managerRules" -}}
{{- $role := .Files.Get "files/rbac/manager-role.yaml" | fromYaml }}
{{- if not $role.rules }}
{{- fail "files/rbac/manager-role.yaml has no rules: run make chart-sync" }}
{{- end }}
{{- toYaml $role.rules }}
{{- end }}

{{/* The metrics Service's name. */}}
{{- define "imageshare-operator.metricsServiceName" -}}
{{- printf "%s-metrics" (include "imageshare-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* A list value as one comma-separated flag value. */}}
{{- define "imageshare-operator.csv" -}}
{{- join "," . }}
{{- end }}
