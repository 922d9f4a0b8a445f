#!/usr/bin/env bash
# Webhook ingest benchmark: Stripe-signed 1 KB JSON webhooks with unique event ids,
# 64 concurrent senders (wrk -t1 -c64, pinned to CPU 0), bulwark (release, workers = 1,
# pinned to CPU 1) storing each one durably before its 2xx, and a local receiver
# (nginx `return 204`, CPU 1) taking the deliveries.
#
# Prints acknowledged webhooks/s with p50/p99, checks that the rows stored equal the
# 2xx answers, then measures how long delivering the backlog takes and the delivery
# rate. Fails on any non-2xx answer, socket error, or a count that does not add up.
set -euo pipefail

DURATION=${DURATION:-10s}
REQUESTS=${REQUESTS:-150000}   # pre-signed requests; must exceed what one run sends
root=$(cd "$(dirname "$0")/.." && pwd)

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

recv_port=$(free_port); public_port=$(free_port); ops_port=$(free_port)
secret="whsec_bench_$(openssl rand -hex 16)"
signing="whsec_$(openssl rand -base64 32)"

echo "signing $REQUESTS requests..."
python3 - "$work/requests.txt" "$secret" "$REQUESTS" <<'PY'
import hashlib, hmac, json, sys, time
path, secret, n = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
t = int(time.time())
pad = "x" * 900
with open(path, "w") as out:
    for i in range(n):
        body = json.dumps({"id": f"evt_{i:010d}", "object": "event", "type": "invoice.paid", "data": {"pad": pad}}, separators=(",", ":"))
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
LUA

taskset -c 1 nginx -p "$work" -c "$work/receiver.conf" & pids+=($!)
SIGNING="$signing" STRIPE_SECRET="$secret" taskset -c 1 "$bulwark" run --config "$work/bulwark.toml" >"$work/bulwark.log" 2>&1 & pids+=($!)
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$public_port") 2>/dev/null && break; sleep 0.1; done

start_ns=$(date +%s%N)
out=$(taskset -c 0 wrk -t1 -c64 -d"$DURATION" --latency -s "$work/send.lua" "http://127.0.0.1:$public_port" -- "$work/requests.txt")
echo "$out" | grep -E "Requests/sec|requests in|Latency|50%|99%|Non-2xx|Socket errors" || true
if grep -q "Non-2xx or 3xx responses\|Socket errors" <<<"$out"; then echo "FAIL: errors during ingest" >&2; exit 1; fi
acked=$(awk '/requests in/ {print $1}' <<<"$out")

count() { python3 -c "import sqlite3,sys; c=sqlite3.connect('file:$work/data/bulwark.db?mode=ro', uri=True); print(c.execute(sys.argv[1]).fetchone()[0])" "$1"; }
stored=$(count "select count(*) from messages")
echo "acknowledged: $acked, stored: $stored"
# wrk stops with up to one request per connection in flight: those may be stored without
# wrk counting their answer. Fewer rows than 2xx answers would be a loss.
if [ "$stored" -lt "$acked" ] || [ "$stored" -gt $((acked + 64)) ]; then
  echo "FAIL: stored rows ($stored) do not match 2xx answers ($acked, + at most 64 in flight)" >&2
  exit 1
fi

# Drain: how long until every stored webhook is delivered (state 2).
for _ in $(seq 1 600); do
  delivered=$(count "select count(*) from messages where state = 2")
  [ "$delivered" -eq "$stored" ] && break
  sleep 0.1
done
end_ns=$(date +%s%N)
echo "delivered: $delivered of $stored"
[ "$delivered" -eq "$stored" ] || { echo "FAIL: not everything was delivered within 60 s after the load" >&2; exit 1; }
awk -v n="$stored" -v ns=$((end_ns - start_ns)) 'BEGIN {printf "ingest + delivery of %d webhooks in %.1f s (%.0f delivered/s overall)\n", n, ns / 1e9, n / (ns / 1e9)}'
