#!/usr/bin/env bash
# Monitor footprint: N HTTP monitors (default 10,000) every 30 s against a local nginx,
# for a few minutes. nginx counts the checks it receives (stub_status); the script prints
# the check rate against the expected rate (N / 30 s) as a ratio and fails below 0.95.
# It also prints bulwark's CPU use over the measured window, its RSS at the end and its
# peak RSS, the TCP connections nginx accepted per check (1.0 means no connection was
# reused), and fails if any monitor went down (nothing here should fail a check).
#
#   bash bench/monitors.sh [monitors] [measure_seconds]
#
# Runs on loopback only. bulwark is pinned to CPU 0, nginx to CPU 1.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
monitors=${1:-10000}
measure=${2:-120}
interval=30
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

target_port=$(free_port)
cat >"$work/target.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/target.pid;
error_log $work/target-error.log;
events { worker_connections 16384; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$target_port backlog=4096;
    location = /nginx_status { stub_status; }
    location / { default_type application/json; return 200 '{"status":"UP"}'; }
  }
}
CONF
taskset -c 1 nginx -c "$work/target.conf" -p "$work" &
pids+=($!)

public=$(free_port)
ops=$(free_port)
{
  printf 'data_dir = "%s/data"\n\n[listen]\npublic = "127.0.0.1:%s"\nops = "127.0.0.1:%s"\n\n' "$work" "$public" "$ops"
  printf '[log]\nlevel = "warn"\n\n'
  for i in $(seq 1 "$monitors"); do
    printf '[[monitors]]\nname = "m%s"\nurl = "http://127.0.0.1:%s/m/%s"\ninterval = "%ss"\n\n' \
      "$i" "$target_port" "$i" "$interval"
  done
} >"$work/bulwark.toml"

# stub_status line 3 is "accepts handled requests": prints "accepts requests".
counts() {
  curl -fsS "http://127.0.0.1:$target_port/nginx_status" | awk 'NR==3 {print $1, $3}'
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk -v key="$2:" '$1 == key {print $2}' "/proc/$1/status"; }

for _ in $(seq 1 50); do counts >/dev/null 2>&1 && break; sleep 0.1; done

taskset -c 0 "$bulwark" run --config "$work/bulwark.toml" >"$work/bulwark.out" 2>"$work/bulwark.err" &
bw=$!
pids+=("$bw")

# The first checks are spread over the first interval; measure after it.
echo "warming up for $((interval + 5)) s with $monitors monitors..."
sleep $((interval + 5))
kill -0 "$bw" || { cat "$work/bulwark.err"; exit 1; }
hz=$(getconf CLK_TCK)
read -r a0 r0 < <(counts)
c0=$(cpu_ticks "$bw")
t0=$(date +%s.%N)
sleep "$measure"
read -r a1 r1 < <(counts)
c1=$(cpu_ticks "$bw")
t1=$(date +%s.%N)
rss=$(rss_kib "$bw" VmRSS)
peak=$(rss_kib "$bw" VmHWM)
down=$(cat "$work/bulwark.out" "$work/bulwark.err" | grep -c 'Monitor is down' || true)

# Each stub_status request counts itself too; two per measurement are negligible.
python3 - "$monitors" "$interval" "$r0" "$r1" "$c0" "$c1" "$t0" "$t1" "$hz" "$rss" "$peak" "$a0" "$a1" "$down" <<'PY'
import sys
monitors, interval, r0, r1, c0, c1, t0, t1, hz, rss, peak, a0, a1, down = sys.argv[1:]
elapsed = float(t1) - float(t0)
rate = (int(r1) - int(r0)) / elapsed
expected = int(monitors) / int(interval)
cpu = (int(c1) - int(c0)) / int(hz) / elapsed * 100
print(f"monitors            {monitors} every {interval} s")
print(f"checks received     {rate:.1f}/s over {elapsed:.0f} s (expected {expected:.1f}/s)")
print(f"ratio               {rate / expected:.3f}  (fails below 0.95)")
checks = int(r1) - int(r0)
print(f"connections         {(int(a1) - int(a0)) / max(checks, 1):.2f} accepted per check")
print(f"bulwark CPU         {cpu:.1f} % of one core (aim <= 20 %)")
print(f"bulwark RSS         {int(rss) * 1024 / 1e6:.1f} MB at the end, peak {int(peak) * 1024 / 1e6:.1f} MB (aim <= 100 MB)")
print(f"monitors gone down  {down}")
sys.exit(0 if rate >= 0.95 * expected and int(down) == 0 else 1)
PY
