{{/*
utils 0.1.4's "utils.persistence" (behaviour of cern-eos/eos-charts
utils/templates/_helpers.tpl at 0.1.4): the persistence TYPE, lower-cased, from
global.eos.persistence.type, else persistence.type, else "disabled". The
callers compare it with "disabled", "hostpath" and "pvc".
*/}}
{{- define "utils.persistence" -}}
{{- $local := "" -}}
{{- $global := "" -}}
{{- if .Values.persistence -}}
{{- $local = dig "type" "" .Values.persistence -}}
{{- end -}}
{{- if .Values.global -}}
{{- $global = dig "eos" "persistence" "type" "" .Values.global -}}
{{- end -}}
{{- lower (coalesce $global $local "disabled") -}}
{{- end -}}
