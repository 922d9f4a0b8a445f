# Shared setup for the benchmark scripts (sourced, not run): tools, a release build, a
# work folder with every started process stopped on exit, and free loopback ports.
# Expects $root (the repository) to be set; sets $bulwark, $work and the array $pids.

need=()
command -v nginx >/dev/null || need+=(nginx)
command -v wrk >/dev/null || need+=(wrk)
command -v taskset >/dev/null || need+=(util-linux)
command -v perf >/dev/null || need+=(linux-perf)
if ((${#need[@]})); then
  echo "installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

echo "building bulwark (release)..."
cargo build --release -q -p bulwark --manifest-path "$root/Cargo.toml"
bulwark="$root/target/release/bulwark"

work=$(mktemp -d /tmp/bulwark-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
