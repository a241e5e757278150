#!/bin/bash
# Issue 17's whole Candor measurement, one server at a time on fresh databases (see
# docs/benchmarks.md): the scale curves, the idle curve, matrix_load.py on SQLite and on
# PostgreSQL with 1 and 2 workers, and the idle RSS after one registration (twice).
# Results go to $OUT (default ./bench-out). Needs PostgreSQL at 127.0.0.1:5432 (trust).
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-bench-out}
mkdir -p "$OUT"
PG=${PG:-postgresql://postgres@127.0.0.1:5432}
ulimit -n 20000

start() { # port, extra serve arguments; prints the server's PID
  local dir; dir=$(mktemp -d)
  CANDOR_SYNC__MAX_TIMEOUT_MS=300000 .venv/bin/candor serve --data-dir "$dir" --port "$1" \
    --no-rate-limit --log-level warning "${@:2}" > "$OUT/server-$1.log" 2>&1 &
  echo $!
}
wait_up() {
  for _ in $(seq 1 120); do
    sleep 0.5; curl -sf "localhost:$1/health" > /dev/null && return 0
  done
  echo "server on port $1 did not start" >&2; exit 1
}

P=$(start 18701); wait_up 18701
.venv/bin/python bench/scale.py http://127.0.0.1:18701 --server-pid "$P" --label candor \
  --curves fanout,rooms,history --history-sizes 1000,10000,100000 > "$OUT/scale.json"
kill "$P"; sleep 2
P=$(start 18702); wait_up 18702
.venv/bin/python bench/scale.py http://127.0.0.1:18702 --server-pid "$P" --label candor \
  --curves idle > "$OUT/idle.json"
kill "$P"; sleep 2
P=$(start 18703); wait_up 18703
.venv/bin/python bench/matrix_load.py http://127.0.0.1:18703 --server-pid "$P" --levels 64 \
  --messages 3000 --sync-listeners 1,16 --sync-messages 200 > "$OUT/load-sqlite.json"
kill "$P"; sleep 2
PG_PID=$(head -1 /var/run/postgresql/*.pid 2>/dev/null || pgrep -o postgres)
for W in 1 2; do
  DB=bench_$(date +%s)_$W
  psql -h 127.0.0.1 -U postgres -qc "create database $DB"
  P=$(start 1871"$W" --database-url "$PG/$DB" --workers "$W"); wait_up 1871"$W"; sleep 2
  .venv/bin/python bench/matrix_load.py http://127.0.0.1:1871"$W" --server-pid "$P" \
    --db-pid "$PG_PID" --levels 64 --messages 3000 --sync-listeners 1,16 --sync-messages 200 \
    > "$OUT/load-pg$W.json"
  kill "$P"; sleep 3
done
for i in 1 2; do
  P=$(start 1872"$i"); wait_up 1872"$i"
  curl -s -XPOST "localhost:1872$i/_matrix/client/v3/register" \
    -d '{"username":"rss'"$i"'","password":"pw-long-enough-123","auth":{"type":"m.login.dummy"}}' \
    > /dev/null
  sleep 2; grep VmRSS "/proc/$P/status" >> "$OUT/idle-rss.txt"; kill "$P"; sleep 1
done
