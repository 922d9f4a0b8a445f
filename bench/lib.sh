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

# nginx answering `200 ok` on $1, access log off: the upstream every benchmark proxies to.
write_upstream_conf() {
  cat >"$work/upstream.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/upstream.pid;
error_log $work/upstream-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000;
  server {
    listen 127.0.0.1:$1;
    location / { return 200 "ok\n"; }
  }
}
CONF
}

# nginx as the reference reverse proxy on $1 in front of 127.0.0.1:$2, pooled keep-alive
# to the upstream and an access log, as bulwark is configured.
write_nginx_proxy_conf() {
  cat >"$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log $work/nginx-access.log;
  keepalive_requests 100000;
  upstream app { server 127.0.0.1:$2; keepalive 128; }
  server {
    listen 127.0.0.1:$1;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
CONF
}
