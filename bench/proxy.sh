#!/usr/bin/env bash
# Reverse-proxy benchmark: direct upstream vs nginx vs bulwark, in one run.
#
# Topology (fixed so results compare across runs and machines):
#   wrk -t1 -c64 -d10s --latency     pinned to CPU 0
#   upstream: nginx `return 200`     pinned to CPU 1 (access log off)
#   proxy: nginx (worker_processes 1) or bulwark (workers = 1), pinned to CPU 1,
#          both writing an access log to a file
# Each target is measured three times, alternating. Prints req/s and p50/p99 for each
# run, the median ratio bulwark/nginx, and bulwark's RSS idle and after the load.
# Fails on any non-2xx answer or socket error.
set -euo pipefail

DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
root=$(cd "$(dirname "$0")/.." && pwd)

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

up_port=$(free_port); nginx_port=$(free_port); bulwark_port=$(free_port); ops_port=$(free_port)

write_upstream_conf "$up_port"
write_nginx_proxy_conf "$nginx_port" "$up_port"

cat >"$work/bulwark.toml" <<CONF
data_dir = "$work/data"
workers = 1

[listen]
public = "127.0.0.1:$bulwark_port"
ops = "127.0.0.1:$ops_port"

[[upstreams]]
name = "app"
targets = ["http://127.0.0.1:$up_port"]

[[routes]]
name = "app"
upstream = "app"
CONF

taskset -c 1 nginx -p "$work" -c "$work/upstream.conf" & pids+=($!)
taskset -c 1 nginx -p "$work" -c "$work/nginx.conf" & nginx_master=$!
pids+=("$nginx_master")
taskset -c 1 "$bulwark" run --config "$work/bulwark.toml" >"$work/bulwark-access.log" 2>&1 & bulwark_pid=$!
pids+=("$bulwark_pid")

wait_port() {
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2; exit 1
}
wait_port "$up_port"; wait_port "$nginx_port"; wait_port "$bulwark_port"

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
# CPU time (user + system, clock ticks) of a process and its threads. Steal time on a
# shared VM slows wall-clock throughput but is not charged here, so CPU per request is
# the steadier comparison.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
nginx_worker=$(pgrep -P "$nginx_master" | head -1)
hz=$(getconf CLK_TCK)
declare -A pid_of=([nginx]=$nginx_worker [bulwark]=$bulwark_pid)
idle_rss=$(rss_kb "$bulwark_pid")

# wrk's latency table prints e.g. "50%  1.23ms"; convert to ms.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else { printf "%s", v } }'
}

declare -A rps cpu
run() {
  local name=$1 port=$2 round=$3 out before=0 after=0
  [ -n "${pid_of[$name]:-}" ] && before=$(cpu_ticks "${pid_of[$name]}")
  out=$(taskset -c 0 wrk -t1 -c64 -d"$DURATION" --latency "http://127.0.0.1:$port/")
  [ -n "${pid_of[$name]:-}" ] && after=$(cpu_ticks "${pid_of[$name]}")
  if grep -q "Non-2xx or 3xx responses" <<<"$out" || grep -q "Socket errors" <<<"$out"; then
    echo "$out"
    echo "FAIL: $name answered with errors" >&2
    exit 1
  fi
  local r p50 p99
  r=$(awk '/Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  rps[$name,$round]=$r
  local total cpu_us="-"
  total=$(awk '/requests in/ {print $1}' <<<"$out")
  if [ -n "${pid_of[$name]:-}" ]; then
    cpu_us=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$total" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
    cpu[$name,$round]=$cpu_us
  fi
  printf "%-8s round %d  %10.0f req/s  p50 %7s ms  p99 %7s ms  cpu %5s us/req\n" "$name" "$round" "$r" "$p50" "$p99" "$cpu_us"
}

# Warm-up so connection pools and caches are filled before measuring.
taskset -c 0 wrk -t1 -c64 -d2s "http://127.0.0.1:$nginx_port/" >/dev/null
taskset -c 0 wrk -t1 -c64 -d2s "http://127.0.0.1:$bulwark_port/" >/dev/null

for round in $(seq 1 "$ROUNDS"); do
  run direct "$up_port" "$round"
  run nginx "$nginx_port" "$round"
  run bulwark "$bulwark_port" "$round"
done

median() { printf "%s\n" "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
collect() { local name=$1 out=(); for r in $(seq 1 "$ROUNDS"); do out+=("${rps[$name,$r]}"); done; median "${out[@]}"; }
direct=$(collect direct); nginx=$(collect nginx); bw=$(collect bulwark)
loaded_rss=$(rss_kb "$bulwark_pid")
access_lines=$(grep -c '"bulwark::access"' "$work/bulwark-access.log" || true)

cpu_ratios=()
for r in $(seq 1 "$ROUNDS"); do
  cpu_ratios+=("$(awk -v a="${cpu[bulwark,$r]}" -v b="${cpu[nginx,$r]}" 'BEGIN {print a / b}')")
done
ratios=()
for r in $(seq 1 "$ROUNDS"); do
  ratios+=("$(awk -v a="${rps[bulwark,$r]}" -v b="${rps[nginx,$r]}" 'BEGIN {print a / b}')")
done

echo
printf "median req/s: direct %.0f, nginx %.0f, bulwark %.0f\n" "$direct" "$nginx" "$bw"
printf "ratio bulwark/nginx: %.3f (of the medians); per round: %s; median per-round %.3f\n" \
  "$(awk -v a="$bw" -v b="$nginx" 'BEGIN {print a / b}')" "${ratios[*]}" "$(median "${ratios[@]}")"
printf "CPU per request bulwark/nginx: per round %s; median %.3f\n" "${cpu_ratios[*]}" "$(median "${cpu_ratios[@]}")"
printf "bulwark RSS: idle %.1f MB, after load %.1f MB\n" "$(awk -v k="$idle_rss" 'BEGIN {print k/1024}')" "$(awk -v k="$loaded_rss" 'BEGIN {print k/1024}')"
echo "bulwark access log lines: $access_lines"
