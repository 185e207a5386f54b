#!/usr/bin/env bash
# Time and peak RSS of `syft scan` on the 100 MB image's tarball against `customs scan` of the same image
# pulled from the local registry (fresh data dir, Debian and Go advisories imported beforehand, not measured),
# and Customs' peak RSS on the 2 GB image. Run fixture.sh first.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

SYFT_VERSION=${SYFT_VERSION:-v1.57.1}
OSV=${OSV_DATA:-/work/shared/data/osv}
RUNS=${RUNS:-3}
IMG="$BENCH_DIR/images/app-100mb.tar"
[[ -f $IMG ]] || die "no $IMG: run fixture.sh first"

need_apt /usr/bin/time time
if [[ ! -x $BIN/syft ]]; then
	log "building syft $SYFT_VERSION"
	(cd "$BENCH_DIR" && GOBIN="$BIN" go install "github.com/anchore/syft/cmd/syft@$SYFT_VERSION") ||
		die "go install github.com/anchore/syft/cmd/syft@$SYFT_VERSION failed"
fi
ensure_customs
ensure_registry

export SYFT_CHECK_FOR_APP_UPDATE=false
rows=()
row() {
	local tf="$BENCH_DIR/results/$2.time"
	rows+=("$(printf '%-44s %8s %8s %8s' "$1" "$(wall_seconds "$tf")" "$(cpu_seconds "$tf")" "$(peak_rss_mb "$tf")")")
}

# A warm-up run of syft (page cache), then RUNS rounds, each: syft, then Customs on a fresh data dir (the first
# scan downloads the layers into the empty cache: cold; --rescan reads them from the cache: warm). The rounds
# interleave the tools so that a change in the machine's load hits both.
syft scan "docker-archive:$IMG" -o json >/dev/null 2>&1 || true
DATA="$BENCH_DIR/customs-syft"
for r in $(seq 1 "$RUNS"); do
	measure "syft-100mb-$r" syft scan "docker-archive:$IMG" -o "json=$BENCH_DIR/results/syft-100mb.json"
	row "syft scan docker-archive (run $r)" "syft-100mb-$r"
	customs_fresh "$DATA" "$OSV/Debian/all.zip" "$OSV/Go/all.zip"
	customs_add_registry
	customs sync >"$BENCH_DIR/logs/sync.out" 2>&1 || { cat "$BENCH_DIR/logs/sync.out" >&2; die "customs sync failed"; }
	measure "customs-100mb-cold-$r" customs scan bench/app:100mb
	scanned_ok "customs-100mb-cold-$r"
	row "customs scan, layers downloaded (run $r)" "customs-100mb-cold-$r"
	measure "customs-100mb-warm-$r" customs scan --rescan bench/app:100mb
	scanned_ok "customs-100mb-warm-$r"
	row "customs scan --rescan, layers cached (run $r)" "customs-100mb-warm-$r"
done
log "syft found $(jq '.artifacts | length' "$BENCH_DIR/results/syft-100mb.json") packages"
cat "$BENCH_DIR/logs/customs-100mb-cold-1.out"

# 2 GB image: Customs' peak RSS (and time).
measure customs-2gb customs scan bench/big:2gb
scanned_ok customs-2gb
row "customs scan bench/big:2gb (2 GB)" customs-2gb
cat "$BENCH_DIR/logs/customs-2gb.out"

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
med() { for r in $(seq 1 "$RUNS"); do wall_seconds "$BENCH_DIR/results/$1-$r.time"; echo; done | median; }
medcpu() { for r in $(seq 1 "$RUNS"); do cpu_seconds "$BENCH_DIR/results/$1-$r.time"; echo; done | median; }
medrss() { for r in $(seq 1 "$RUNS"); do peak_rss_mb "$BENCH_DIR/results/$1-$r.time"; echo; done | median; }
{
	echo
	printf '%-44s %8s %8s %8s\n' "100 MB image: $(du -m "$IMG" | cut -f1) MB tarball" "wall s" "cpu s" "RSS MB"
	printf '%s\n' "${rows[@]}"
	echo
	s=$(med syft-100mb)
	c=$(med customs-100mb-cold)
	w=$(med customs-100mb-warm)
	printf 'median: syft %s s / %s MB; customs cold %s s / %s MB (%.2fx syft), warm %s s / %s MB (%.2fx syft)\n' \
		"$s" "$(medrss syft-100mb)" "$c" "$(medrss customs-100mb-cold)" "$(echo "$c / $s" | bc -l)" \
		"$w" "$(medrss customs-100mb-warm)" "$(echo "$w / $s" | bc -l)"
	printf 'median cpu: syft %s s; customs cold %s s, warm %s s\n' "$(medcpu syft-100mb)" "$(medcpu customs-100mb-cold)" "$(medcpu customs-100mb-warm)"
	echo "targets: customs <= 0.5x syft's time, <= 150 MB RSS on 100 MB; <= 200 MB RSS on 2 GB ($(peak_rss_mb "$BENCH_DIR/results/customs-2gb.time") MB)"
} | tee "$BENCH_DIR/results/compare-syft.txt"
