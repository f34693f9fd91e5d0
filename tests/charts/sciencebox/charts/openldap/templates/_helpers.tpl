{{/* `<release>-<chart name or alias>`, unless the release name contains it
(the usual `fullname` helper; mboxed.steps.sciencebox.fullname mirrors it) */}}
{{- define "openldap.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
