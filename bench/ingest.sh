#!/usr/bin/env bash
# Webhook ingest benchmark: Stripe-signed 1 KB JSON webhooks with unique event ids,
# 64 concurrent senders (wrk -t1 -c64, pinned to CPU 0), bulwark (release, workers = 1,
# pinned to CPU 1) storing each one durably before its 2xx, and a local receiver
# (nginx `return 204`, CPU 1) taking the deliveries.
#
# Phase 1 (saturation): acknowledged webhooks/s with p50/p99 and the fsyncs/s bulwark
# made (counted by `perf stat` on its fsync/fdatasync syscalls, so group commit shows);
# checks that the rows stored equal the 2xx answers, then how long delivering the
# backlog takes. Phase 2 (fixed offered load, RATE/s): ingest-to-delivery latency p50/p99,
# from each row's commit time to its acknowledgement by the receiver. Fails on any
# non-2xx answer, socket error, or a count that does not add up.
set -euo pipefail

DURATION=${DURATION:-10s}
REQUESTS=${REQUESTS:-150000}   # pre-signed requests; must exceed what one run sends
RATE=${RATE:-2000}             # phase 2 offered load, webhooks/s (approximately)
root=$(cd "$(dirname "$0")/.." && pwd)

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

recv_port=$(free_port); public_port=$(free_port); ops_port=$(free_port)
secret="whsec_bench_$(openssl rand -hex 16)"
signing="whsec_$(openssl rand -base64 32)"

echo "signing $REQUESTS requests per phase..."
python3 - "$work" "$secret" "$REQUESTS" <<'PY'
import hashlib, hmac, json, sys, time
work, secret, n = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
t = int(time.time())
pad = "x" * 900
# Distinct event ids per phase: a repeated id would be answered as a duplicate.
for phase in (1, 2):
    with open(f"{work}/requests-{phase}.txt", "w") as out:
        for i in range(n):
            body = json.dumps({"id": f"evt_{phase}_{i:010d}", "object": "event", "type": "invoice.paid", "data": {"pad": pad}}, separators=(",", ":"))
            sig = hmac.new(secret, f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
            out.write(f"t={t},v1={sig}\t{body}\n")
PY

cat >"$work/receiver.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/receiver.pid;
error_log $work/receiver-error.log;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$recv_port; location / { return 204; } } }
CONF

cat >"$work/bulwark.toml" <<CONF
data_dir = "$work/data"
workers = 1

[listen]
public = "127.0.0.1:$public_port"
ops = "127.0.0.1:$ops_port"

[log]
access_log = false

[signing]
key = "\${SIGNING}"

[[webhooks]]
name = "stripe"
path = "/webhooks/stripe"
scheme = "stripe"
secrets = ["\${STRIPE_SECRET}"]
destination = "http://127.0.0.1:$recv_port/stripe"
concurrency = 64
CONF

cat >"$work/send.lua" <<'LUA'
local requests = {}
local i = 0
function init(args)
  for line in io.lines(args[1]) do
    local sig, body = line:match("^([^\t]+)\t(.*)$")
    requests[#requests + 1] = wrk.format("POST", "/webhooks/stripe",
      { ["Content-Type"] = "application/json", ["Stripe-Signature"] = sig }, body)
  end
end
function request()
  i = i + 1
  if i > #requests then error("ran out of pre-signed requests: raise REQUESTS") end
  return requests[i]
end
-- Phase 2 paces each connection: wrk waits this long before its next request.
local pace = tonumber(os.getenv("PACE_MS") or "0")
if pace > 0 then function delay() return pace end end
LUA

taskset -c 1 nginx -p "$work" -c "$work/receiver.conf" & pids+=($!)
SIGNING="$signing" STRIPE_SECRET="$secret" taskset -c 1 "$bulwark" run --config "$work/bulwark.toml" >"$work/bulwark.log" 2>&1 & pids+=($!)
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$public_port") 2>/dev/null && break; sleep 0.1; done

count() { python3 -c "import sqlite3,sys; c=sqlite3.connect('file:$work/data/bulwark.db?mode=ro', uri=True); print(c.execute(sys.argv[1]).fetchone()[0])" "$1"; }
drain() { # waits until every stored webhook is delivered (state 2), at most 60 s
  for _ in $(seq 1 600); do
    delivered=$(count "select count(*) from messages where state = 2")
    [ "$delivered" -eq "$(count "select count(*) from messages")" ] && return 0
    sleep 0.1
  done
  return 1
}
bulwark_pid=${pids[1]}

echo "== phase 1: saturation, 64 connections, $DURATION"
start_ns=$(date +%s%N)
perf stat -x, -e 'syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync' -p "$bulwark_pid" \
  -o "$work/fsyncs.txt" -- sleep "${DURATION%s}" & perf_pid=$!
out=$(taskset -c 0 wrk -t1 -c64 -d"$DURATION" --latency -s "$work/send.lua" "http://127.0.0.1:$public_port" -- "$work/requests-1.txt")
wait "$perf_pid" || true
echo "$out" | grep -E "Requests/sec|requests in|Latency|50%|99%|Non-2xx|Socket errors" || true
if grep -q "Non-2xx or 3xx responses\|Socket errors" <<<"$out"; then echo "FAIL: errors during ingest" >&2; exit 1; fi
acked=$(awk '/requests in/ {print $1}' <<<"$out")
fsyncs=$(awk -F, '/syscalls/ {n += $1} END {print n + 0}' "$work/fsyncs.txt")
awk -v f="$fsyncs" -v d="${DURATION%s}" -v a="$acked" 'BEGIN {printf "fsyncs: %d in %s s (%.0f/s), %.1f acknowledged webhooks per fsync\n", f, d, f / d, a / (f > 0 ? f : 1)}'

stored=$(count "select count(*) from messages")
echo "acknowledged: $acked, stored: $stored"
# wrk stops with up to one request per connection in flight: those may be stored without
# wrk counting their answer. Fewer rows than 2xx answers would be a loss.
if [ "$stored" -lt "$acked" ] || [ "$stored" -gt $((acked + 64)) ]; then
  echo "FAIL: stored rows ($stored) do not match 2xx answers ($acked, + at most 64 in flight)" >&2
  exit 1
fi
drain || { echo "FAIL: not everything was delivered within 60 s after the load" >&2; exit 1; }
end_ns=$(date +%s%N)
awk -v n="$stored" -v ns=$((end_ns - start_ns)) 'BEGIN {printf "delivered: all %d; ingest + delivery in %.1f s (%.0f delivered/s overall)\n", n, ns / 1e9, n / (ns / 1e9)}'

echo "== phase 2: fixed offered load, about $RATE webhooks/s, $DURATION"
phase2_ms=$(($(date +%s%N) / 1000000))
out=$(PACE_MS=$((64 * 1000 / RATE)) taskset -c 0 wrk -t1 -c64 -d"$DURATION" --latency -s "$work/send.lua" "http://127.0.0.1:$public_port" -- "$work/requests-2.txt")
echo "$out" | grep -E "Requests/sec|50%|99%" || true
if grep -q "Non-2xx or 3xx responses\|Socket errors" <<<"$out"; then echo "FAIL: errors during ingest" >&2; exit 1; fi
drain || { echo "FAIL: phase 2 not delivered within 60 s" >&2; exit 1; }
python3 - "$work/data/bulwark.db" "$phase2_ms" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
# created_at: committed by the inbox; updated_at: the receiver's 2xx recorded (ack).
lat = sorted(r[0] for r in db.execute("select updated_at - created_at from messages where created_at >= ? and state = 2", (int(sys.argv[2]),)))
pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(f"ingest-to-delivery over {len(lat)} webhooks: p50 {pick(0.50)} ms, p99 {pick(0.99)} ms, max {lat[-1]} ms")
PY
