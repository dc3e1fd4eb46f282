#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on 127.0.0.1:$PORT and print its URL.
# Usage: scripts/pg-start.sh [PORT]   (stop with: scripts/pg-stop.sh DIR printed on stderr)
set -euo pipefail
PORT=${1:-$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$PGBIN" ]; then
  apt-get install -y -q postgresql >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null; }
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
DIR=$(mktemp -d /tmp/ltpg.XXXXXX)
chown postgres: "$DIR"
RUN=(runuser -u postgres --)
[ "$(id -u)" != 0 ] && RUN=()
"${RUN[@]}" "$PGBIN/initdb" -D "$DIR/data" -U postgres -A trust --no-sync -E UTF8 >/dev/null
"${RUN[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null
"${RUN[@]}" "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres labtasker
echo "$DIR" >&2
echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/labtasker"
