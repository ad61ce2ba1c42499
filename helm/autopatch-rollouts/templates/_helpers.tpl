{{/*
Expand the name of the chart.
*/}}
{{- define "autopatch-rollouts.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
A default fully qualified app name, truncated at 63 characters (DNS names). A release name that
already contains the chart name is used as it is.
*/}}
{{- define "autopatch-rollouts.fullname" -}}
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

{{/*
A component's resource name: <fullname>-<suffix>, within 63 characters.
*/}}
{{- define "autopatch-rollouts.componentName" -}}
{{- $root := index . 0 }}
{{- $suffix := index . 1 }}
{{- printf "%s-%s" (include "autopatch-rollouts.fullname" $root | trunc (int (sub 62 (len $suffix))) | trimSuffix "-") $suffix }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "autopatch-rollouts.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "autopatch-rollouts.labels" -}}
helm.sh/chart: {{ include "autopatch-rollouts.chart" . }}
{{ include "autopatch-rollouts.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ include "autopatch-rollouts.name" . }}
{{- end }}

{{/*
Selector labels: every pod of the release (the NetworkPolicy selects them all by these).
*/}}
{{- define "autopatch-rollouts.selectorLabels" -}}
app.kubernetes.io/name: {{ include "autopatch-rollouts.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Selector labels of one component: (list $ "api").
*/}}
{{- define "autopatch-rollouts.componentSelectorLabels" -}}
{{ include "autopatch-rollouts.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/*
Labels of one component's resources: (list $ "api").
*/}}
{{- define "autopatch-rollouts.componentLabels" -}}
{{ include "autopatch-rollouts.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/*
The ServiceAccount the pods run as.
*/}}
{{- define "autopatch-rollouts.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "autopatch-rollouts.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image: repository@digest when a digest is given, else repository:tag (tag defaults to the
chart's appVersion).
*/}}
{{- define "autopatch-rollouts.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
True ("true") when the release uses an external PostgreSQL (database.existingSecret is set);
empty when the API pod runs an embedded one.
*/}}
{{- define "autopatch-rollouts.externalDatabase" -}}
{{- if .Values.database.existingSecret }}true{{ end }}
{{- end }}

{{/*
Where the Graph certificate Secret is mounted, and the file GRAPH_CLIENT_CERTIFICATE_PATH names.
*/}}
{{- define "autopatch-rollouts.graphCertificateDir" -}}
/var/run/secrets/autopatch-rollouts/graph
{{- end }}

{{- define "autopatch-rollouts.graphCertificateMounted" -}}
{{- if and (eq .Values.config.GRAPH_MODE "live") .Values.graph.existingSecret (eq .Values.graph.credential "certificate") }}true{{ end }}
{{- end }}

{{/*
A setting as the string a ConfigMap holds. Helm reads every number in values as a float, which
would print 10485760 as 1.048576e+07: whole numbers are printed as integers.
*/}}
{{- define "autopatch-rollouts.settingValue" -}}
{{- if and (kindIs "float64" .) (eq (float64 (int64 .)) .) }}
{{- int64 . | toString }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/*
The environment every container of the service gets, after the ConfigMap (envFrom): the Secret
references. The ConfigMap itself is referenced by the callers.
*/}}
{{- define "autopatch-rollouts.secretEnv" -}}
{{- if .Values.database.existingSecret }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret }}
      key: {{ .Values.database.existingSecretKey }}
{{- end }}
{{- if and .Values.graph.existingSecret (eq .Values.graph.credential "secret") }}
- name: GRAPH_CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ .Values.graph.existingSecret }}
      key: {{ .Values.graph.clientSecretKey }}
{{- end }}
{{- if .Values.auth.apiKeys.existingSecret }}
- name: API_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ .Values.auth.apiKeys.existingSecret }}
      key: {{ .Values.auth.apiKeys.existingSecretKey }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Volumes every pod of the service gets: /tmp (read-only root filesystem), the Graph certificate,
the embedded database's directory when there is no external one, and extraVolumes.
*/}}
{{- define "autopatch-rollouts.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- if include "autopatch-rollouts.graphCertificateMounted" . }}
- name: graph-credential
  secret:
    secretName: {{ .Values.graph.existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ .Values.graph.certificateKey }}
        path: graph.pem
{{- end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "autopatch-rollouts.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if include "autopatch-rollouts.graphCertificateMounted" . }}
- name: graph-credential
  mountPath: {{ include "autopatch-rollouts.graphCertificateDir" . }}
  readOnly: true
{{- end }}
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
checksum/config: pods roll when the ConfigMap changes. (Secrets are created outside the chart:
after changing one, `kubectl rollout restart` the Deployments.)
*/}}
{{- define "autopatch-rollouts.configChecksum" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- end }}

{{/*
Cross-field checks the schema cannot express.
*/}}
{{- define "autopatch-rollouts.validate" -}}
{{- range $name, $component := dict "api" .Values.api "workers" .Values.workers }}
{{- if and $component.autoscaling.enabled (gt (int $component.autoscaling.minReplicas) (int $component.autoscaling.maxReplicas)) }}
{{- fail (printf "%s.autoscaling.minReplicas (%v) is greater than maxReplicas (%v)" $name $component.autoscaling.minReplicas $component.autoscaling.maxReplicas) }}
{{- end }}
{{- $pdb := $component.podDisruptionBudget }}
{{- $min := include "autopatch-rollouts.isSet" $pdb.minAvailable }}
{{- $max := include "autopatch-rollouts.isSet" $pdb.maxUnavailable }}
{{- if and $pdb.enabled (eq $min $max) }}
{{- fail (printf "%s.podDisruptionBudget: set exactly one of minAvailable and maxUnavailable (the other null or \"\")" $name) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Pod-level settings shared by every pod of the service.
*/}}
{{- define "autopatch-rollouts.podCommon" -}}
serviceAccountName: {{ include "autopatch-rollouts.serviceAccountName" . }}
{{ include "autopatch-rollouts.podSecurity" . }}
{{- end }}

{{/*
podCommon without the ServiceAccount, for the migration hook: a pre-install hook runs before the
release's own ServiceAccount exists, so it runs as the namespace's "default" one (or the
existing serviceAccount.name), its token not mounted either way.
*/}}
{{- define "autopatch-rollouts.podSecurity" -}}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}

{{/*
Scheduling settings of one component: (list $ .Values.api).
*/}}
{{- define "autopatch-rollouts.scheduling" -}}
{{- $component := index . 1 }}
{{- with $component.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $component.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $component.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $component.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
"true" when a value is given: neither null (deleted) nor "" (0 counts as given).
*/}}
{{- define "autopatch-rollouts.isSet" -}}
{{- if and (not (kindIs "invalid" .)) (ne (toString .) "") }}true{{ end }}
{{- end }}
