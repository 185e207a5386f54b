#!/usr/bin/env bash
# Scans the FLEET_SIZE images of namespace fleet (they share the Debian base layer): images per hour, and the
# bytes fetched from the registry (blob GETs in the registry's log, and the size of the blob cache), against
# the bytes of distinct blobs (shared base counted once). Run fixture.sh first.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

OSV=${OSV_DATA:-/work/shared/data/osv}
WORKERS=${WORKERS:-2}
FLEET_SIZE=${FLEET_SIZE:-200}
ensure_customs
ensure_registry
ensure_crane

DATA="$BENCH_DIR/customs-fleet"
customs_fresh "$DATA" "$OSV/Debian/all.zip" "$OSV/Go/all.zip"
customs registry add --name fleet --type SwrPrivate --protocol http --addr "$REGISTRY" --namespace fleet </dev/null \
	>"$BENCH_DIR/logs/registry-add.out" 2>&1 || die "customs registry add failed: $(cat "$BENCH_DIR/logs/registry-add.out")"
measure fleet-sync customs sync
cat "$BENCH_DIR/logs/fleet-sync.out"

# Distinct compressed bytes of the fleet's blobs (layers and configs), shared base once.
declare -A seen=()
distinct=0
for i in $(seq -f %03g 1 "$FLEET_SIZE"); do
	m=$(crane manifest --insecure "$REGISTRY/fleet/app-$i:1.0")
	while read -r d s; do
		[[ -n ${seen[$d]:-} ]] && continue
		seen[$d]=1
		distinct=$((distinct + s))
	done < <(jq -r '(.layers[], .config) | "\(.digest) \(.size)"' <<<"$m")
done

log_start=$(stat -c %s "$BENCH_DIR/registry.log")
measure fleet-scan customs scan --workers "$WORKERS"
scanned_ok fleet-scan
tail -n 3 "$BENCH_DIR/logs/fleet-scan.out"
scanned=$(grep -c '  success  ' "$BENCH_DIR/logs/fleet-scan.out" || true)
failed=$(grep -vc -e '^DIGEST' -e '  success  ' "$BENCH_DIR/logs/fleet-scan.out" || true)

# The registry's log: one JSON line per request ("response completed") with method, URI and bytes written.
read -r gets bytes < <(tail -c +"$((log_start + 1))" "$BENCH_DIR/registry.log" |
	jq -Rr 'fromjson? | select(.msg == "response completed" and ."http.request.method" == "GET" and (."http.request.uri" | test("/blobs/sha256:"))) | ."http.response.written"' |
	awk '{n++; s += $1} END {print n + 0, s + 0}')
cache=$(du -sb "$DATA/cache/blobs" 2>/dev/null | cut -f1 || echo 0)
secs=$(wall_seconds "$BENCH_DIR/results/fleet-scan.time")
{
	echo
	echo "fleet: $FLEET_SIZE images in namespace fleet, workers $WORKERS"
	printf 'sync:  %s s, peak RSS %s MB\n' "$(wall_seconds "$BENCH_DIR/results/fleet-sync.time")" "$(peak_rss_mb "$BENCH_DIR/results/fleet-sync.time")"
	printf 'scan:  %s images succeeded, %s other rows, %s s (cpu %s s), peak RSS %s MB => %.0f images/hour\n' \
		"$scanned" "$failed" "$secs" "$(cpu_seconds "$BENCH_DIR/results/fleet-scan.time")" \
		"$(peak_rss_mb "$BENCH_DIR/results/fleet-scan.time")" "$(echo "$scanned * 3600 / $secs" | bc -l)"
	printf 'bytes: distinct blobs %s; fetched (registry log) %s in %s blob GETs; blob cache %s\n' \
		"$distinct" "$bytes" "$gets" "$cache"
} | tee "$BENCH_DIR/results/throughput.txt"
