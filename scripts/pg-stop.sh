#!/usr/bin/env bash
# Stop a server started by pg-start.sh: scripts/pg-stop.sh DIR
set -u
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$1/data" -m fast -w stop >/dev/null 2>&1 || true
rm -rf "$1"
