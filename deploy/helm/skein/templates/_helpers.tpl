{{/* Names and labels. */}}
{{- define "skein.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "skein.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "skein.labels" -}}
{{ include "skein.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "skein.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "skein.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The image reference: a digest wins over a tag; the repository has no default. */}}
{{- define "skein.image" -}}
{{- $repository := required "image.repository is required: the registry path of the image built from deploy/Dockerfile" .Values.image.repository -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
Refuse values that would deploy something that cannot work or is unsafe, with the key to fix.
*/}}
{{- define "skein.validate" -}}
{{- $v := .Values -}}
{{- if not $v.devServices.enabled -}}
{{- if not $v.postgres.dsnSecret.name -}}{{- fail "postgres.dsnSecret.name is required: an existing Secret holding the audit database's DSN (or devServices.enabled=true, dev only)" -}}{{- end -}}
{{- if not $v.redis.urlSecret.name -}}{{- fail "redis.urlSecret.name is required: an existing Secret holding the Redis URL (or devServices.enabled=true, dev only)" -}}{{- end -}}
{{- $shared := or $v.autoscaling.enabled (gt (int $v.replicas) 1) -}}
{{- if and $shared (not (has ($v.config.guard.keys | default "file") (list "vault-kv" "vault-transit"))) -}}
{{- fail "config.guard.keys must be vault-kv or vault-transit with several replicas: every pod must derive the same pseudonyms" -}}
{{- end -}}
{{- end -}}
{{- if not (or $v.config.auth.issuer $v.auth.apiKeysSecret.name) -}}
{{- fail "no way to authenticate callers: set config.auth.issuer (OIDC) or auth.apiKeysSecret.name (service accounts)" -}}
{{- end -}}
{{- if not $v.bundle.trustedKeys.keys -}}
{{- fail "bundle.trustedKeys.keys is required: {kid: file in the bundle.trustedKeys.configMap ConfigMap}; the gateway serves only verified bundles" -}}
{{- end -}}
{{- if not (has $v.bundle.source (list "configMap" "url")) -}}
{{- fail (printf "bundle.source must be configMap or url, not %q" $v.bundle.source) -}}
{{- end -}}
{{- if and (eq $v.bundle.source "url") (not (regexMatch "^https?://" $v.bundle.url)) -}}
{{- fail "bundle.url must be an http(s):// address when bundle.source is url" -}}
{{- end -}}
{{- range $name, $ref := $v.secretEnv -}}
{{- if not (and $ref.name $ref.key) -}}{{- fail (printf "secretEnv.%s needs name and key of an existing Secret" $name) -}}{{- end -}}
{{- end -}}
{{- end -}}

{{/* The configuration file: the user's config with the keys the chart owns on top. */}}
{{- define "skein.config" -}}
{{- $v := .Values -}}
{{- $bundle := dict "poll_interval_seconds" (int $v.bundle.pollIntervalSeconds) "verify" true -}}
{{- if eq $v.bundle.source "url" -}}
{{- $_ := set $bundle "source" "url" -}}
{{- $_ := set $bundle "url" $v.bundle.url -}}
{{- else -}}
{{- $_ := set $bundle "source" "file" -}}
{{- $_ := set $bundle "path" (printf "/etc/skein/bundle/%s" $v.bundle.configMap.key) -}}
{{- end -}}
{{- $keys := dict -}}
{{- range $kid, $file := $v.bundle.trustedKeys.keys -}}
{{- $_ := set $keys $kid (printf "/etc/skein/keys/%s" $file) -}}
{{- end -}}
{{- $_ := set $bundle "trusted_keys" $keys -}}
{{- $managed := dict
  "state_dir" "/var/lib/skein"
  "server" (dict "host" "0.0.0.0" "port" 8080)
  "bundle" $bundle
  "audit" (dict "sink" "postgres" "postgres_schema" $v.postgres.schema)
  "state" (dict "backend" "redis")
-}}
{{- toYaml (mustMergeOverwrite (deepCopy $v.config) $managed) -}}
{{- end -}}

{{/* Environment shared by the gateway and the migration Job: where Postgres and Redis are. */}}
{{- define "skein.storeEnv" -}}
{{- $v := .Values -}}
{{- if $v.devServices.enabled }}
- name: SKEIN_AUDIT__POSTGRES_DSN
  value: {{ printf "postgresql://skein@%s-dev-postgres:5432/skein" (include "skein.fullname" .) | quote }}
- name: SKEIN_STATE__REDIS_URL
  value: {{ printf "redis://%s-dev-redis:6379/0" (include "skein.fullname" .) | quote }}
{{- else }}
- name: SKEIN_AUDIT__POSTGRES_DSN
  valueFrom: {secretKeyRef: {name: {{ $v.postgres.dsnSecret.name | quote }}, key: {{ $v.postgres.dsnSecret.key | quote }}}}
- name: SKEIN_STATE__REDIS_URL
  valueFrom: {secretKeyRef: {name: {{ $v.redis.urlSecret.name | quote }}, key: {{ $v.redis.urlSecret.key | quote }}}}
{{- end }}
{{- end -}}

{{- define "skein.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities: {drop: [ALL]}
{{- end -}}

{{- define "skein.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile: {type: RuntimeDefault}
{{- end -}}
