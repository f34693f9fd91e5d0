"""ScienceBox configuration: secrets, users, TLS and the chart's Helm values."""
