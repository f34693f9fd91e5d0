{{/*
utils 0.1.7's "utils.persistence" (behaviour of cern-eos/eos-charts
utils/templates/_helpers.tpl at 0.1.7): whether persistence is ENABLED, as a
lower-cased string, from global.persistence.enabled, else
persistence.enabled, else "false". Same name as 0.1.4's, other answers.
*/}}
{{- define "utils.persistence" -}}
{{- $local := "" -}}
{{- $global := "" -}}
{{- if .Values.persistence -}}
{{- $local = dig "enabled" "" .Values.persistence | toString -}}
{{- end -}}
{{- if .Values.global -}}
{{- $global = dig "persistence" "enabled" "" .Values.global | toString -}}
{{- end -}}
{{- lower (coalesce $global $local "false") -}}
{{- end -}}
