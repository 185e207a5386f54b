#!/usr/bin/env bash
# Shared helpers of the benchmark scripts; sourced, not run.
# Everything downloaded, built or started lives under BENCH_DIR.

BENCH_DIR=${BENCH_DIR:-/tmp/customs-bench}
BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_SRC/.." && pwd)
BIN="$BENCH_DIR/bin"
CRANE_VERSION=$(awk '$1 == "github.com/google/go-containerregistry" {print $2}' "$REPO_ROOT/go.mod")
REGISTRY_BIN=${REGISTRY_BIN:-/root/go/bin/registry}
mkdir -p "$BENCH_DIR" "$BIN" "$BENCH_DIR/logs" "$BENCH_DIR/images" "$BENCH_DIR/results"
export PATH="$BIN:$PATH"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

need_apt() { # need_apt COMMAND PACKAGE
	command -v "$1" >/dev/null 2>&1 && return 0
	log "installing $2 (apt-get)"
	apt-get install -y "$2" >"$BENCH_DIR/logs/apt-$2.log" 2>&1 || {
		apt-get update >>"$BENCH_DIR/logs/apt-$2.log" 2>&1
		apt-get install -y "$2" >>"$BENCH_DIR/logs/apt-$2.log" 2>&1
	} || die "apt-get install $2 failed, see $BENCH_DIR/logs/apt-$2.log"
}

ensure_crane() {
	[[ -x "$BIN/crane" ]] && return 0
	log "building crane $CRANE_VERSION"
	(cd "$BENCH_DIR" && GOBIN="$BIN" go install "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION")
}

# ensure_customs builds the customs binary from the checkout into BIN (every run: the code moves).
ensure_customs() {
	log "building customs from $REPO_ROOT"
	(cd "$REPO_ROOT" && go build -o "$BIN/customs" ./cmd/customs)
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ensure_registry starts the Distribution registry (filesystem storage under BENCH_DIR) unless it runs,
# and sets REGISTRY (host:port). Its log, with one line per request, is BENCH_DIR/registry.log.
ensure_registry() {
	local pidf="$BENCH_DIR/registry.pid" addrf="$BENCH_DIR/registry.addr"
	if [[ -f $pidf && -f $addrf ]] && kill -0 "$(cat "$pidf")" 2>/dev/null; then
		REGISTRY=$(cat "$addrf")
		return 0
	fi
	[[ -x $REGISTRY_BIN ]] || die "no registry binary at $REGISTRY_BIN (go install github.com/distribution/distribution/v3/cmd/registry@v3.1.2)"
	local port
	port=$(free_port)
	REGISTRY="127.0.0.1:$port"
	mkdir -p "$BENCH_DIR/registry-data"
	cat >"$BENCH_DIR/registry.yml" <<YML
version: 0.1
log:
  level: info
  formatter: json
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $BENCH_DIR/registry-data
  delete:
    enabled: true
http:
  addr: $REGISTRY
YML
	setsid "$REGISTRY_BIN" serve "$BENCH_DIR/registry.yml" >>"$BENCH_DIR/registry.log" 2>&1 &
	echo $! >"$pidf"
	echo "$REGISTRY" >"$addrf"
	local i
	for i in $(seq 1 100); do
		curl -fsS "http://$REGISTRY/v2/" >/dev/null 2>&1 && { log "registry on $REGISTRY (pid $(cat "$pidf"))"; return 0; }
		sleep 0.1
	done
	die "registry did not start, see $BENCH_DIR/registry.log"
}

stop_registry() {
	local pidf="$BENCH_DIR/registry.pid"
	[[ -f $pidf ]] && kill "$(cat "$pidf")" 2>/dev/null || true
	rm -f "$pidf"
}

# measure NAME CMD...: runs CMD under /usr/bin/time -v; prints and records wall seconds and peak RSS (KiB)
# in BENCH_DIR/results/NAME.time; CMD's output goes to BENCH_DIR/logs/NAME.out and .err.
measure() {
	local name=$1
	shift
	need_apt /usr/bin/time time
	local tf="$BENCH_DIR/results/$name.time"
	/usr/bin/time -v -o "$tf" "$@" >"$BENCH_DIR/logs/$name.out" 2>"$BENCH_DIR/logs/$name.err" || {
		log "$name failed: $*"
		tail -n 20 "$BENCH_DIR/logs/$name.err" >&2
		return 1
	}
	log "$name: $(wall_seconds "$tf") s, peak RSS $(peak_rss_mb "$tf") MB"
}

wall_seconds() { # from a /usr/bin/time -v file: "Elapsed (wall clock) time (h:mm:ss or m:ss): 0:01.23"
	awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s}' "$1"
}
cpu_seconds() { # user + system
	awk -F': ' '/User time/ {u = $2} /System time/ {s = $2} END {printf "%.2f", u + s}' "$1"
}
peak_rss_mb() {
	awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$1"
}

# customs_fresh DATA [OSV...]: a fresh Customs data directory with the advisories imported (not measured).
customs_fresh() {
	local data=$1
	shift
	rm -rf "$data"
	mkdir -p "$data"
	# CUSTOMS_SCAN_ON_SYNC=false: `customs sync` queues nothing; `customs scan` is what is measured.
	export CUSTOMS_DATA="$data" CUSTOMS_ADMIN_PASSWORD=${CUSTOMS_ADMIN_PASSWORD:-bench-Passw0rd-123} CUSTOMS_LOG_LEVEL=warn \
		CUSTOMS_SCAN_ON_SYNC=false
	customs migrate >"$BENCH_DIR/logs/migrate.out" 2>&1
	if (($# > 0)); then
		log "importing advisories: $*"
		customs vulndb import "$@" >"$BENCH_DIR/logs/vulndb-import.out" 2>&1 || {
			cat "$BENCH_DIR/logs/vulndb-import.out" >&2
			die "customs vulndb import failed"
		}
	fi
}

# customs_add_registry: registers the local registry as the project's primary registry and synchronizes it.
customs_add_registry() {
	customs registry add --name bench --type SwrPrivate --protocol http --addr "$REGISTRY" </dev/null >"$BENCH_DIR/logs/registry-add.out" 2>&1 || {
		cat "$BENCH_DIR/logs/registry-add.out" >&2
		die "customs registry add failed"
	}
}

# scanned_ok NAME: the customs scan output BENCH_DIR/logs/NAME.out lists at least one image and none that failed.
scanned_ok() {
	local f="$BENCH_DIR/logs/$1.out"
	grep -q '  success  ' "$f" && ! grep -q '  failed' "$f" || {
		cat "$f" "$BENCH_DIR/logs/$1.err" >&2
		die "$1: customs scan did not scan (see above)"
	}
}
