{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "alertplane.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified name, used for every object the chart creates. */}}
{{- define "alertplane.fullname" -}}
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

{{- define "alertplane.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "alertplane.selectorLabels" -}}
app.kubernetes.io/name: {{ include "alertplane.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "alertplane.labels" -}}
helm.sh/chart: {{ include "alertplane.chart" . }}
{{ include "alertplane.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: alertplane
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "alertplane.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "alertplane.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "alertplane.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Namespace the configmap / prometheus-operator sinks write into. */}}
{{- define "alertplane.sinkNamespace" -}}
{{- default .Release.Namespace .Values.sink.namespace -}}
{{- end -}}

{{- /* The Secret with the key the API signs its audit annotations with (api.enabled). */ -}}
{{- define "alertplane.attributionSecretName" -}}
{{- default (printf "%s-attribution-key" (include "alertplane.fullname" .)) .Values.api.attributionKeySecret -}}
{{- end -}}

{{- define "alertplane.webhookSecretName" -}}
{{- if .Values.webhook.certManager.enabled -}}
{{- printf "%s-webhook-tls" (include "alertplane.fullname" .) -}}
{{- else -}}
{{- .Values.webhook.existingSecret -}}
{{- end -}}
{{- end -}}

{{/*
Cross-field checks that values.schema.json cannot express with a clear message.
Included by the Deployment so every render runs them.
*/}}
{{- define "alertplane.validate" -}}
{{- if and .Values.webhook.enabled (not .Values.webhook.certManager.enabled) -}}
{{- if not .Values.webhook.existingSecret -}}
{{- fail "webhook.enabled with webhook.certManager.enabled=false needs webhook.existingSecret (a kubernetes.io/tls Secret in the release namespace)" -}}
{{- end -}}
{{- if not .Values.webhook.caBundle -}}
{{- fail "webhook.enabled with webhook.certManager.enabled=false needs webhook.caBundle (base64 of the PEM CA that signed webhook.existingSecret's certificate)" -}}
{{- end -}}
{{- end -}}
{{- if and (ne .Values.sink.type "files") .Values.sink.files.existingClaim -}}
{{- fail (printf "sink.files.existingClaim is only used with sink.type=files (sink.type is %s); remove it" .Values.sink.type) -}}
{{- end -}}
{{- if hasKey ((.Values.platform.alertmanager | default dict).defaultReceiver | default dict) "name" -}}
{{- fail "platform.alertmanager.defaultReceiver.name: the name is always platform-default; remove the name key" -}}
{{- end -}}
{{- if and (eq .Values.sink.type "files") .Values.sink.namespace -}}
{{- fail "sink.namespace is only used with sink.type=configmap or prometheus-operator; the files sink writes to sink.files.out" -}}
{{- end -}}
{{- if and .Values.prometheusUrl ((.Values.platform.prometheus | default dict).shards) -}}
{{- fail "prometheusUrl is the one unsharded Prometheus and platform.prometheus.shards is set: give each shard's URL as platform.prometheus.shards[].url and remove prometheusUrl" -}}
{{- end -}}
{{- include "alertplane.validatePromop" . -}}
{{- include "alertplane.validateMimir" . -}}
{{- end -}}

{{/* sink.type=mimir: what `alertplane operator --sink mimir` would refuse at start, said
at render time instead (a pod in CrashLoopBackOff is a worse place to learn it). */}}
{{- define "alertplane.validateMimir" -}}
{{- $m := .Values.sink.mimir -}}
{{- if eq .Values.sink.type "mimir" -}}
{{- if not $m.url -}}
{{- fail "sink.type=mimir needs sink.mimir.url (Mimir's base URL through its authenticating gateway: docs/mimir.md)" -}}
{{- end -}}
{{- if or .Values.prometheusUrl .Values.alertmanagerUrl -}}
{{- fail "prometheusUrl/alertmanagerUrl do not apply to sink.type=mimir (Mimir's ruler and Alertmanager load the tenants' configuration themselves); remove them" -}}
{{- end -}}
{{- $pl := .Values.platform | default dict -}}
{{- if or ($pl.prometheus | default dict).shards ($pl.alertmanager | default dict).replicas -}}
{{- fail "platform.prometheus.shards/platform.alertmanager.replicas do not apply to sink.type=mimir (Mimir's ruler and Alertmanager scale themselves: docs/mimir.md); remove them" -}}
{{- end -}}
{{- if .Values.sink.namespace -}}
{{- fail "sink.namespace is not used with sink.type=mimir (nothing is written into the cluster); remove it" -}}
{{- end -}}
{{- else if or $m.url $m.tokenSecret -}}
{{- fail (printf "sink.mimir is only used with sink.type=mimir (sink.type is %s); remove sink.mimir.url/tokenSecret" .Values.sink.type) -}}
{{- end -}}
{{- end -}}

{{/*
Rules in every watched namespace (all of them when watchNamespaces is empty): watch the
custom resources, add/remove the finalizer (get, patch), patch their status, post Warning
Events; with the prometheus-operator sink also read the Secrets receivers reference (get by
name only: they are copied into the sink namespace); with the mimir sink the same (get by
name only: Mimir refuses *_file fields, so their keys are inlined into the tenant's
Alertmanager configuration in Mimir and copied nowhere else).
*/}}
{{- define "alertplane.customResourceRules" -}}
- apiGroups: [alertplane.io]
  resources: [customeralerts, customerreceivers, customerrecordingrules]
  verbs: [get, list, watch, patch]
- apiGroups: [alertplane.io]
  resources: [customeralerts/status, customerreceivers/status, customerrecordingrules/status]
  verbs: [patch]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- if has .Values.sink.type (list "prometheus-operator" "mimir") }}
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
{{- end }}
{{- end -}}

{{/* The API's name: its ServiceAccount, Deployment, Service and RBAC. */}}
{{- define "alertplane.apiName" -}}
{{- printf "%s-api" (include "alertplane.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The API's pods must not match the operator's selector (its Service would send
metrics scrapes and webhook calls there), hence a name of their own. */}}
{{- define "alertplane.apiSelectorLabels" -}}
app.kubernetes.io/name: {{ include "alertplane.name" . }}-api
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "alertplane.apiLabels" -}}
helm.sh/chart: {{ include "alertplane.chart" . }}
{{ include "alertplane.apiSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: api
app.kubernetes.io/part-of: alertplane
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* What `alertplane serve --kubernetes` calls: read one object, create, replace
(update), annotate before a delete (patch), delete. */}}
{{- define "alertplane.apiRules" -}}
- apiGroups: [alertplane.io]
  resources: [customeralerts, customerreceivers, customerrecordingrules]
  verbs: [get, create, update, patch, delete]
{{- end -}}

{{/*
prometheus-operator liveness targets, per namespace, as YAML:
{<namespace>: {prometheus: [names], alertmanager: [names]}}. A Prometheus is [ns/]name
(ns defaults to the sink namespace); Alertmanagers are always in the sink namespace (their
base configuration, the AlertmanagerConfig alertplane.platform, must be in theirs).
Empty unless sink.type is prometheus-operator.
*/}}
{{- define "alertplane.promopTargets" -}}
{{- $sinkNs := include "alertplane.sinkNamespace" . -}}
{{- $out := dict -}}
{{- if eq .Values.sink.type "prometheus-operator" -}}
{{- $po := .Values.sink.prometheusOperator -}}
{{- range (include "alertplane.promopPrometheus" . | fromYaml).objects -}}
{{- $entry := get $out .ns | default (dict "prometheus" list "alertmanager" list) -}}
{{- $_ := set $entry "prometheus" (append $entry.prometheus .name) -}}
{{- $_ := set $out .ns $entry -}}
{{- end -}}
{{- range $po.alertmanager -}}
{{- $entry := get $out $sinkNs | default (dict "prometheus" list "alertmanager" list) -}}
{{- $_ := set $entry "alertmanager" (append $entry.alertmanager .) -}}
{{- $_ := set $out $sinkNs $entry -}}
{{- end -}}
{{- if and $out (not (hasKey $out $sinkNs)) -}}
{{- /* the Events of rejected PrometheusRules are in the sink namespace */ -}}
{{- $_ := set $out $sinkNs (dict "prometheus" list "alertmanager" list) -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* Checks of sink.prometheusOperator the schema cannot express. */}}
{{- define "alertplane.validatePromop" -}}
{{- $po := .Values.sink.prometheusOperator -}}
{{- $sinkNs := include "alertplane.sinkNamespace" . -}}
{{- $seen := dict -}}
{{- range $i, $p := $po.prometheus -}}
{{- $key := ternary $p (printf "%s/%s" $sinkNs $p) (contains "/" $p) -}}
{{- if hasKey $seen $key -}}
{{- fail (printf "sink.prometheusOperator.prometheus[%d] (%s) names the Prometheus %s a second time; list it once" $i $p $key) -}}
{{- end -}}
{{- $_ := set $seen $key true -}}
{{- end -}}
{{- if $po.createObjects -}}
{{- if ne .Values.sink.type "prometheus-operator" -}}
{{- fail (printf "sink.prometheusOperator.createObjects renders prometheus-operator's Prometheus and Alertmanager objects, which only the prometheus-operator sink feeds (sink.type is %s); set it to false" .Values.sink.type) -}}
{{- end -}}
{{- if not (or $po.prometheus $po.alertmanager) -}}
{{- fail "sink.prometheusOperator.createObjects renders one Prometheus per sink.prometheusOperator.prometheus entry and one Alertmanager per sink.prometheusOperator.alertmanager entry; both lists are empty" -}}
{{- end -}}
{{- range $i, $p := $po.prometheus -}}
{{- $parts := splitList "/" $p -}}
{{- if and (eq (len $parts) 2) (ne (first $parts) $sinkNs) -}}
{{- fail (printf "sink.prometheusOperator.prometheus[%d] is %s: with createObjects the chart renders its Prometheus objects in the sink namespace %s; name it %s (or render it yourself in %s)" $i $p $sinkNs (last $parts) (first $parts)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $k := list "ruleSelector" "ruleNamespaceSelector" -}}
{{- if hasKey $po.prometheusSpec $k -}}
{{- fail (printf "sink.prometheusOperator.prometheusSpec.%s is the chart's: it loads exactly alertplane's PrometheusRules from the sink namespace (a broader selector, e.g. ruleNamespaceSelector: {}, loads rules alertplane never checked); remove it" $k) -}}
{{- end -}}
{{- range $shard, $extra := ($po.shardSpecs | default dict) -}}
{{- if hasKey ($extra | default dict) $k -}}
{{- fail (printf "sink.prometheusOperator.shardSpecs.%s.%s is the chart's: a shard's Prometheus loads exactly that shard's PrometheusRules (a broader selector evaluates other shards' customers on data it does not hold); remove it" $shard $k) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $shardNames := list -}}
{{- range ((.Values.platform.prometheus | default dict).shards | default list) }}{{ $shardNames = append $shardNames .name }}{{ end -}}
{{- range $shard, $_ := ($po.shardSpecs | default dict) -}}
{{- if not (or (has $shard $shardNames) (has $shard ($po.retiringShards | default list))) -}}
{{- fail (printf "sink.prometheusOperator.shardSpecs.%s: no such shard in platform.prometheus.shards or retiringShards" $shard) -}}
{{- end -}}
{{- end -}}
{{- range $k := list "alertmanagerConfiguration" "alertmanagerConfigSelector" "alertmanagerConfigNamespaceSelector" "alertmanagerConfigMatcherStrategy" -}}
{{- if hasKey $po.alertmanagerSpec $k -}}
{{- fail (printf "sink.prometheusOperator.alertmanagerSpec.%s is the chart's: the base configuration is alertplane.platform and only alertplane's AlertmanagerConfigs in the sink namespace are merged, without an extra namespace matcher; remove it" $k) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The ServiceAccount the rendered Prometheus objects run as (createObjects). */}}
{{- define "alertplane.prometheusServiceAccount" -}}
{{- default (printf "%s-prometheus" (include "alertplane.fullname" .)) .Values.sink.prometheusOperator.prometheusSpec.serviceAccountName -}}
{{- end -}}

{{/*
The Prometheus objects of the prometheus-operator sink, as YAML {objects: [{ns, name, shard,
flag}]}: one per sink.prometheusOperator.prometheus entry, or, with platform.prometheus.shards,
one per entry and shard, named <name>-<shard> (its ruleSelector selects that shard's
PrometheusRules only; flag --promop-prometheus=<shard>=<ns>/<name>-<shard>). `retiring`:
the same for sink.prometheusOperator.retiringShards (shards removed from the platform
config whose objects still evaluate the customers moving away: rendered, never a flag).
*/}}
{{- define "alertplane.promopPrometheus" -}}
{{- $sinkNs := include "alertplane.sinkNamespace" . -}}
{{- $shards := list -}}
{{- range ((.Values.platform.prometheus | default dict).shards | default list) -}}
{{- $shards = append $shards .name -}}
{{- end -}}
{{- $objects := list -}}
{{- range .Values.sink.prometheusOperator.prometheus -}}
{{- $parts := splitList "/" . -}}
{{- $ns := ternary (first $parts) $sinkNs (eq (len $parts) 2) -}}
{{- if $shards -}}
{{- range $shard := $shards -}}
{{- $name := printf "%s-%s" (last $parts) $shard -}}
{{- $objects = append $objects (dict "ns" $ns "name" $name "shard" $shard "flag" (printf "%s=%s/%s" $shard $ns $name)) -}}
{{- end -}}
{{- else -}}
{{- $objects = append $objects (dict "ns" $ns "name" (last $parts) "shard" "" "flag" .) -}}
{{- end -}}
{{- end -}}
{{- $retiring := list -}}
{{- range $shard := .Values.sink.prometheusOperator.retiringShards -}}
{{- if has $shard $shards -}}
{{- fail (printf "sink.prometheusOperator.retiringShards: %s is still in platform.prometheus.shards; list only shards you removed from there" $shard) -}}
{{- end -}}
{{- range $.Values.sink.prometheusOperator.prometheus -}}
{{- $parts := splitList "/" . -}}
{{- $ns := ternary (first $parts) $sinkNs (eq (len $parts) 2) -}}
{{- $retiring = append $retiring (dict "ns" $ns "name" (printf "%s-%s" (last $parts) $shard) "shard" $shard) -}}
{{- end -}}
{{- end -}}
{{- toYaml (dict "objects" $objects "retiring" $retiring) -}}
{{- end -}}
