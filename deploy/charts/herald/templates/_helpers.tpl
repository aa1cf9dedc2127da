{{/*
The prefix of every object's name. The release name when it already says
"herald" (the usual `helm install herald`), so that the default render
names objects exactly as deploy/herald.yaml does; else "<release>-herald".
Truncated so that the longest suffix still fits a 63-character name.
*/}}
{{- define "herald.fullname" -}}
{{- $name := .Values.fullnameOverride -}}
{{- if not $name -}}
{{- $name = ternary .Release.Name (printf "%s-herald" .Release.Name) (contains "herald" .Release.Name) -}}
{{- end -}}
{{- $name | trunc 30 | trimSuffix "-" -}}
{{- end -}}

{{/*
Selector labels: what Deployments, DaemonSets, Services and the PDB select
pods by. They name the component only, never the chart version nor the
release, so that no upgrade ever changes an immutable selector.
Call with (dict "component" "controller").
*/}}
{{- define "herald.selectorLabels" -}}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/name: herald
{{- end -}}

{{/*
Labels Helm's conventions add to an object's metadata (and only there):
they change with the chart version, so no selector and no pod template
carries them.
*/}}
{{- define "herald.helmLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/*
An object's metadata labels: the selector labels, the part-of label every
object of deploy/herald.yaml carries, and Helm's.
Call with (dict "root" $ "component" "controller").
*/}}
{{- define "herald.labels" -}}
{{ include "herald.selectorLabels" . }}
app.kubernetes.io/part-of: herald
{{ include "herald.helmLabels" .root }}
{{- end -}}

{{/*
A pod template's labels: the selector labels only.
*/}}
{{- define "herald.podLabels" -}}
{{ include "herald.selectorLabels" . }}
{{- end -}}

{{/*
An image reference. KubeSphere's global.imageRegistry wins over
image.registry; an empty registry leaves the name as it is (the container
runtime's default registry). The tag defaults to image.tag, then to the
chart's appVersion.
Call with (dict "root" $ "image" .Values.controller.image).
*/}}
{{- define "herald.image" -}}
{{- $v := .root.Values -}}
{{- $registry := coalesce (dig "imageRegistry" "" ($v.global | default dict)) $v.image.registry -}}
{{- $tag := coalesce .image.tag $v.image.tag .root.Chart.AppVersion -}}
{{- if $registry -}}
{{- printf "%s/%s:%s" (trimSuffix "/" $registry) .image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/*
A pod's nodeSelector: the component's, with KubeSphere's global.nodeSelector
laid over it (a cluster-wide placement rule wins over the chart default).
Call with (dict "root" $ "nodeSelector" .Values.speaker.nodeSelector).
*/}}
{{- define "herald.nodeSelector" -}}
{{- $global := dig "nodeSelector" dict (.root.Values.global | default dict) -}}
{{- $merged := merge (deepCopy $global) (deepCopy (.nodeSelector | default dict)) -}}
{{- if $merged -}}
nodeSelector:
  {{- toYaml $merged | nindent 2 }}
{{- end -}}
{{- end -}}

{{/*
The pull secrets of every pod: image.pullSecrets plus KubeSphere's
global.imagePullSecrets, as names.
*/}}
{{- define "herald.pullSecrets" -}}
{{- $names := list -}}
{{- range (concat (.Values.image.pullSecrets | default list) (dig "imagePullSecrets" list (.Values.global | default dict))) -}}
{{- if kindIs "map" . -}}
{{- $names = append $names .name -}}
{{- else -}}
{{- $names = append $names . -}}
{{- end -}}
{{- end -}}
{{- if $names -}}
imagePullSecrets:
{{- range ($names | uniq) }}
- name: {{ . }}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Names of the objects the controller's flags must point at. */}}
{{- define "herald.webhookServiceName" -}}{{ include "herald.fullname" . }}-webhook-service{{- end -}}
{{- define "herald.webhookSecretName" -}}{{ include "herald.fullname" . }}-webhook-certs{{- end -}}
{{- define "herald.validatingWebhookName" -}}{{ include "herald.fullname" . }}-validating-webhook-configuration{{- end -}}
{{- define "herald.mutatingWebhookName" -}}{{ include "herald.fullname" . }}-mutating-webhook-configuration{{- end -}}

{{/*
A generated object (files/generated, written by `make chart` from
deploy/herald.yaml) as a dict. Call with (dict "root" $ "file" "<name>.yaml").
*/}}
{{- define "herald.generated" -}}
{{- $path := printf "files/generated/%s" .file -}}
{{- $data := .root.Files.Get $path -}}
{{- if not $data -}}
{{- fail (printf "%s is missing: run `make chart`" $path) -}}
{{- end -}}
{{- $data -}}
{{- end -}}

{{/* The rules of a generated Role or ClusterRole. */}}
{{- define "herald.generatedRules" -}}
{{- $obj := include "herald.generated" . | fromYaml -}}
{{- if hasKey $obj "Error" -}}
{{- fail (printf "files/generated/%s: %s" .file $obj.Error) -}}
{{- end -}}
rules:
{{ toYaml $obj.rules }}
{{- end -}}

{{/*
At least one mode must be on: with none, the speaker would announce
nothing and every Eip would be refused.
*/}}
{{- define "herald.checkModes" -}}
{{- $m := .Values.modes -}}
{{- if not (or $m.bgp.enabled $m.layer2.enabled $m.vip.enabled) -}}
{{- fail "modes: enable at least one of bgp, layer2 and vip" -}}
{{- end -}}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.service.enabled) -}}
{{- fail "metrics.serviceMonitor.enabled needs metrics.service.enabled: a ServiceMonitor scrapes through the metrics Services" -}}
{{- end -}}
{{- end -}}
