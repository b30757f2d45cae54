"""Where alerts and figures go: EVE files, syslog with a spool, Prometheus metrics."""
