{{/* Labels every object of a service carries; `name` is the service's key under .Values.services. */}}
{{- define "tongxin.labels" -}}
{{ include "tongxin.selectorLabels" . }}
app.kubernetes.io/part-of: tongxin
app.kubernetes.io/component: {{ .service.component }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end }}

{{- define "tongxin.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{- define "tongxin.image" -}}
{{- $image := mergeOverwrite (deepCopy .root.Values.image) (.service.image | default dict) -}}
{{- if $image.digest -}}
{{ $image.repository }}@{{ $image.digest }}
{{- else -}}
{{ $image.repository }}:{{ $image.tag | default .root.Chart.AppVersion }}
{{- end -}}
{{- end }}

{{/* NATS_PASSWORD_<USER>: the key of a user's password in the users Secret. */}}
{{- define "tongxin.natsPasswordKey" -}}
NATS_PASSWORD_{{ . | upper | replace "-" "_" }}
{{- end }}

{{- define "tongxin.natsUrls" -}}
{{- .Values.nats.urls | default (printf "nats://%s-nats:%d" .Release.Name (int .Values.nats.port)) -}}
{{- end }}

{{- define "tongxin.postgresqlHost" -}}
{{- .Values.postgresql.host | default (printf "%s-postgresql" .Release.Name) -}}
{{- end }}

{{- define "tongxin.securityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: {{ .Values.uid }}
runAsGroup: {{ .Values.uid }}
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "tongxin.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.uid }}
runAsGroup: {{ .Values.uid }}
fsGroup: {{ .Values.uid }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* The environment of a service's container: platform settings first, then its own env. */}}
{{- define "tongxin.env" -}}
{{- $root := .root -}}
{{- $svc := .service -}}
- name: TONGXIN_STATE_DIR
  value: /var/lib/tongxin
- name: TONGXIN_LOG_LEVEL
  value: {{ $root.Values.logLevel | quote }}
{{- if $svc.port }}
- name: TONGXIN_HTTP_HOST
  value: 0.0.0.0
- name: TONGXIN_HTTP_PORT
  value: {{ $svc.port | quote }}
{{- if eq $svc.component "relay" }}
- name: TONGXIN_RELAY_HTTP_PORT
  value: {{ $svc.port | quote }}
{{- end }}
{{- end }}
- name: TONGXIN_NATS_URLS
  value: {{ include "tongxin.natsUrls" $root | quote }}
- name: TONGXIN_STREAM_REPLICAS
  value: {{ $root.Values.nats.streamReplicas | quote }}
- name: TONGXIN_NATS_USER
  value: {{ $svc.natsUser | quote }}
- name: TONGXIN_NATS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.nats.auth.usersSecret }}
      key: {{ include "tongxin.natsPasswordKey" $svc.natsUser }}
{{- if $root.Values.nats.tls.enabled }}
- name: TONGXIN_NATS_TLS_CA
  value: /etc/tongxin/nats-ca/{{ $root.Values.nats.tls.caKey }}
{{- end }}
{{- if $svc.database }}
- name: TONGXIN_STORE
  value: postgres
- name: TONGXIN_POSTGRES_HOST
  value: {{ include "tongxin.postgresqlHost" $root | quote }}
- name: TONGXIN_POSTGRES_PORT
  value: {{ $root.Values.postgresql.port | quote }}
- name: TONGXIN_POSTGRES_USER
  value: {{ $root.Values.postgresql.user | quote }}
- name: TONGXIN_POSTGRES_DBNAME
  value: {{ $svc.database | quote }}
- name: TONGXIN_POSTGRES_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.postgresql.auth.secretName }}
      key: {{ $root.Values.postgresql.auth.passwordKey }}
{{- end }}
{{- /* Only its own store's key: the API and its relay share one, the rest get none. */}}
{{- if and $root.Values.cipherKey.secretName $svc.cipherKey }}
- name: TONGXIN_CIPHER_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.cipherKey.secretName }}
      key: {{ $svc.cipherKey }}
{{- end }}
- name: TONGXIN_AUTH_JWKS_URL
  {{- if $root.Values.auth.jwksConfigMap.name }}
  value: {{ printf "/etc/tongxin/jwks/%s" $root.Values.auth.jwksConfigMap.key | quote }}
  {{- else }}
  value: {{ required "auth.jwksUrl or auth.jwksConfigMap.name is required" $root.Values.auth.jwksUrl | quote }}
  {{- end }}
- name: TONGXIN_AUTH_ISSUER
  value: {{ $root.Values.auth.issuer | quote }}
- name: TONGXIN_AUTH_AUDIENCE
  value: {{ $root.Values.auth.audience | quote }}
{{- if $root.Values.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $root.Values.otlpEndpoint | quote }}
{{- end }}
{{- range $name, $path := $svc.fieldEnv }}
- name: {{ $name }}
  valueFrom:
    fieldRef:
      fieldPath: {{ $path }}
{{- end }}
{{- range $name, $value := $svc.env }}
- name: {{ $name }}
  value: {{ tpl (toString $value) $root | quote }}
{{- end }}
{{- end }}

{{/* The ingress rules of a service's NetworkPolicy (empty when nothing may call it). */}}
{{- define "tongxin.ingressRules" -}}
{{- $root := .root -}}
{{- $svc := .service -}}
{{- if $svc.port }}
{{- range $svc.callers }}
- from:
    - podSelector:
        matchLabels:
          app.kubernetes.io/name: {{ . }}
          app.kubernetes.io/instance: {{ $root.Release.Name }}
  ports:
    - port: {{ $svc.port }}
      protocol: TCP
{{- end }}
{{- if $svc.public }}
- ports:
    - port: {{ $svc.port }}
      protocol: TCP
  {{- with $root.Values.networkPolicy.publicPeers }}
  from:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- with $root.Values.networkPolicy.monitoringPeers }}
- from:
    {{- toYaml . | nindent 4 }}
  ports:
    - port: {{ $svc.port }}
      protocol: TCP
{{- end }}
{{- end }}
{{- end }}
