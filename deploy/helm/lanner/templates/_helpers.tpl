{{/* Names, labels and the pieces several templates share. */}}

{{- define "lanner.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The prefix of every object's name: <release>-lanner, or <release> when it already says lanner. */}}
{{- define "lanner.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "lanner.responderName" -}}
{{- printf "%s-responder" (include "lanner.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "lanner.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "lanner.labels" -}}
helm.sh/chart: {{ include "lanner.chart" . }}
app.kubernetes.io/name: {{ include "lanner.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: lanner
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of the collector (component: collector) or the responder. */}}
{{- define "lanner.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lanner.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: collector
{{- end -}}

{{- define "lanner.responderSelectorLabels" -}}
app.kubernetes.io/name: {{ include "lanner.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: responder
{{- end -}}

{{- define "lanner.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "lanner.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "lanner.responderServiceAccountName" -}}
{{- if .Values.responder.serviceAccount.create -}}
{{- default (include "lanner.responderName" .) .Values.responder.serviceAccount.name -}}
{{- else -}}
{{- required "responder.serviceAccount.name is required when responder.serviceAccount.create is false" .Values.responder.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The collector's image reference: repository, then @digest or :tag (default appVersion). */}}
{{- define "lanner.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "lanner.responderImage" -}}
{{- if or .Values.responder.image.repository .Values.responder.image.tag -}}
{{- printf "%s:%s" (default .Values.image.repository .Values.responder.image.repository) (default .Chart.AppVersion .Values.responder.image.tag) -}}
{{- else -}}
{{- include "lanner.image" . -}}
{{- end -}}
{{- end -}}

{{/*
lanner.config: lanner run's configuration file, from .Values.config plus the keys the chart owns
(ports, the audit webhook's files, Secret references, custom rules). Rendered as YAML.
*/}}
{{- define "lanner.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- $rules := list -}}
{{- range ($cfg.rules_files | default list) }}{{ $rules = append $rules . }}{{ end -}}
{{- range $name, $_ := .Values.customRules }}{{ $rules = append $rules (printf "/etc/lanner/rules.d/%s" $name) }}{{ end -}}
{{- $_ := set $cfg "rules_files" $rules -}}
{{- $_ := set $cfg "http" (merge (dict "enabled" true "listen" (printf ":%d" (int .Values.ports.metrics))) (omit (default dict $cfg.http) "enabled" "listen")) -}}
{{- $audit := omit (default dict $cfg.audit) "enabled" "listen" "cert_file" "key_file" "bearer_token_file" "client_cert_auth" "client_ca_file" "plaintext" -}}
{{- $_ := set $audit "enabled" (.Values.auditWebhook.enabled | default false) -}}
{{- if .Values.auditWebhook.enabled -}}
{{- $_ := set $audit "listen" (printf ":%d" (int .Values.ports.audit)) -}}
{{- $_ := set $audit "cert_file" "/etc/lanner/audit-tls/tls.crt" -}}
{{- $_ := set $audit "key_file" "/etc/lanner/audit-tls/tls.key" -}}
{{- if .Values.auditWebhook.tokenSecret -}}
{{- $_ := set $audit "bearer_token_file" (printf "/etc/lanner/audit-token/%s" .Values.auditWebhook.tokenKey) -}}
{{- end -}}
{{- if .Values.auditWebhook.clientCASecret -}}
{{- $_ := set $audit "client_cert_auth" true -}}
{{- $_ := set $audit "client_ca_file" (printf "/etc/lanner/audit-client-ca/%s" .Values.auditWebhook.clientCAKey) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $cfg "audit" $audit -}}
{{- $es := deepCopy (default dict $cfg.elasticsearch) -}}
{{- with .Values.elasticsearch -}}
{{- if and .existingSecret .apiKeyKey -}}{{ $_ := set $es "api_key" "${ES_API_KEY}" }}
{{- else if and .existingSecret .passwordKey -}}{{ $_ := set $es "password" "${ES_PASSWORD}" }}{{- end -}}
{{- if .caSecret -}}
{{- $tls := deepCopy (default dict $es.tls) -}}
{{- $_ := set $tls "ca_file" (printf "/etc/lanner/es-ca/%s" .caKey) -}}
{{- $_ := set $es "tls" $tls -}}
{{- end -}}
{{- end -}}
{{- $_ := set $cfg "elasticsearch" $es -}}
{{- toYaml $cfg -}}
{{- end -}}
