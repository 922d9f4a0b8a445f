#!/usr/bin/env bash
# Full policy stack benchmark: nginx vs plain bulwark vs bulwark with the whole edge
# policy on its route (JWT HS256, a per-IP and a per-user limit, metrics, access log,
# default security headers), in one run and the topology of bench/proxy.sh:
#   wrk -t1 -c64 (CPU 0) with a Lua script cycling through 1,000 distinct valid tokens
#   upstream nginx `return 200`, the proxies (CPU 1), each logging every request
# The limits are far above the load, so the run measures the work, not cheap 429s or a
# cache of one token; the script fails on any non-2xx. Prints req/s per round and the
# median ratios full/plain (aim ≥ 0.85) and plain/nginx. A fourth target, `redis`, is the
# full stack with its limits in a local redis-server (also on CPU 1): the cost of one
# Redis round trip per limit.
set -euo pipefail

DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
TOKENS=${TOKENS:-1000}
root=$(cd "$(dirname "$0")/.." && pwd)

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

command -v redis-server >/dev/null || { apt-get install -y -qq redis-server >/dev/null; }
up_port=$(free_port); nginx_port=$(free_port); redis_port=$(free_port)
redis_bw_port=$(free_port); redis_bw_ops=$(free_port)
plain_port=$(free_port); plain_ops=$(free_port); full_port=$(free_port); full_ops=$(free_port)
secret="bench-$(openssl rand -hex 24)"

write_upstream_conf "$up_port"
write_nginx_proxy_conf "$nginx_port" "$up_port"

common() { # $1 public port, $2 ops port, $3 data dir
  cat <<CONF
data_dir = "$3"
workers = 1

[listen]
public = "127.0.0.1:$1"
ops = "127.0.0.1:$2"

[[upstreams]]
name = "app"
targets = ["http://127.0.0.1:$up_port"]
CONF
}

{ common "$plain_port" "$plain_ops" "$work/plain"; cat <<CONF

[[routes]]
name = "app"
upstream = "app"
CONF
} >"$work/plain.toml"

{ common "$full_port" "$full_ops" "$work/full"; cat <<CONF

[[auth.jwt]]
name = "users"
issuer = "bench"
audiences = ["api"]
algorithms = ["HS256"]
secret = "\${JWT_SECRET}"

[[routes]]
name = "app"
upstream = "app"
auth = "users"
roles_any = ["user"]
[[routes.limits]]
name = "per-ip"
key = "ip"
rate = "1000000/s"
[[routes.limits]]
name = "per-user"
key = "user"
rate = "1000000/min"
CONF
} >"$work/full.toml"
sed -e "s|127.0.0.1:$full_port|127.0.0.1:$redis_bw_port|; s|127.0.0.1:$full_ops|127.0.0.1:$redis_bw_ops|; s|$work/full|$work/redis|" \
  "$work/full.toml" >"$work/redis.toml"
printf '\n[rate_limit]\nbackend = "redis"\nredis_url = "${REDIS_URL}"\n' >>"$work/redis.toml"

echo "minting $TOKENS tokens..."
python3 - "$work/tokens.txt" "$secret" "$TOKENS" <<'PY'
import base64, hashlib, hmac, json, sys, time
path, secret, n = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
header = b64(b'{"alg":"HS256","typ":"JWT"}')
exp = int(time.time()) + 3600
with open(path, "w") as out:
    for i in range(n):
        payload = b64(json.dumps({"iss": "bench", "aud": "api", "sub": f"user-{i}", "roles": ["user"], "exp": exp}).encode())
        sig = b64(hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest())
        out.write(f"{header}.{payload}.{sig}\n")
PY

cat >"$work/tokens.lua" <<'LUA'
local tokens = {}
local i = 0
function init(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
end
function request()
  i = i % #tokens + 1
  return wrk.format("GET", "/", { ["Authorization"] = "Bearer " .. tokens[i] })
end
LUA

taskset -c 1 nginx -p "$work" -c "$work/upstream.conf" & pids+=($!)
taskset -c 1 nginx -p "$work" -c "$work/nginx.conf" & pids+=($!)
taskset -c 1 "$bulwark" run --config "$work/plain.toml" >"$work/plain.log" 2>&1 & pids+=($!)
JWT_SECRET="$secret" taskset -c 1 "$bulwark" run --config "$work/full.toml" >"$work/full.log" 2>&1 & pids+=($!)
taskset -c 1 redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis-server.log" 2>&1 & pids+=($!)
REDIS_URL="redis://127.0.0.1:$redis_port" JWT_SECRET="$secret" taskset -c 1 "$bulwark" run --config "$work/redis.toml" >"$work/redis.log" 2>&1 & pids+=($!)
for port in "$up_port" "$nginx_port" "$plain_port" "$full_port" "$redis_port" "$redis_bw_port"; do
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
done

declare -A rps
run() {
  local name=$1 port=$2 round=$3 out
  out=$(taskset -c 0 wrk -t1 -c64 -d"$DURATION" --latency -s "$work/tokens.lua" "http://127.0.0.1:$port" -- "$work/tokens.txt")
  if grep -q "Non-2xx or 3xx responses\|Socket errors" <<<"$out"; then
    echo "$out"; echo "FAIL: $name answered with errors" >&2; exit 1
  fi
  rps[$name,$round]=$(awk '/Requests\/sec:/ {print $2}' <<<"$out")
  printf "%-6s round %d  %10.0f req/s  p50 %8s  p99 %8s\n" "$name" "$round" "${rps[$name,$round]}" \
    "$(awk '$1 == "50%" {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")"
}

for port in "$nginx_port" "$plain_port" "$full_port" "$redis_bw_port"; do
  taskset -c 0 wrk -t1 -c64 -d2s -s "$work/tokens.lua" "http://127.0.0.1:$port" -- "$work/tokens.txt" >/dev/null
done
for round in $(seq 1 "$ROUNDS"); do
  run nginx "$nginx_port" "$round"
  run plain "$plain_port" "$round"
  run full "$full_port" "$round"
  run redis "$redis_bw_port" "$round"
done

median() { printf "%s\n" "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ratio() { local out=(); for r in $(seq 1 "$ROUNDS"); do out+=("$(awk -v a="${rps[$1,$r]}" -v b="${rps[$2,$r]}" 'BEGIN {print a / b}')"); done; median "${out[@]}"; }
echo
printf "median per-round ratio full/plain: %.3f (aim >= 0.85)\n" "$(ratio full plain)"
printf "median per-round ratio plain/nginx: %.3f, full/nginx: %.3f, redis/full: %.3f\n" \
  "$(ratio plain nginx)" "$(ratio full nginx)" "$(ratio redis full)"
