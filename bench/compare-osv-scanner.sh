#!/usr/bin/env bash
# Runs osv-scanner (offline, on the same OSV data) and Customs on the same images and prints the differences
# between their (vulnerability id, package name) sets. Run fixture.sh first.
#   IMAGES="app-100mb=bench/app:100mb debian11-old=bench/debian11:old"  tarball name = repository:tag pairs
set -euo pipefail
source "$(dirname "$0")/lib.sh"

OSV_SCANNER_VERSION=${OSV_SCANNER_VERSION:-v2.6.0}
OSV_TOOLCHAIN=${OSV_TOOLCHAIN:-go1.27.3}
OSV=${OSV_DATA:-/work/shared/data/osv}
IMAGES=${IMAGES:-"app-100mb=bench/app:100mb debian11-old=bench/debian11:old fleet-001=fleet/app-001:1.0"}
OUT="$BENCH_DIR/results/osv"
mkdir -p "$OUT"

if [[ ! -x $BIN/osv-scanner ]]; then
	log "building osv-scanner $OSV_SCANNER_VERSION with GOTOOLCHAIN=$OSV_TOOLCHAIN"
	if ! (cd "$BENCH_DIR" && GOBIN="$BIN" GOTOOLCHAIN="$OSV_TOOLCHAIN" go install "github.com/google/osv-scanner/v2/cmd/osv-scanner@$OSV_SCANNER_VERSION") \
		>"$BENCH_DIR/logs/osv-scanner-install.log" 2>&1; then
		cat "$BENCH_DIR/logs/osv-scanner-install.log" >&2
		die "could not build osv-scanner $OSV_SCANNER_VERSION (toolchain $OSV_TOOLCHAIN): see above; nothing compared"
	fi
fi
ensure_customs
ensure_registry
ensure_crane

# The offline database in osv-scanner's layout: D/osv-scalibr/<Ecosystem>/all.zip.
D="$BENCH_DIR/osv-db"
for eco in "$OSV"/*/; do
	eco=$(basename "$eco")
	[[ -f $OSV/$eco/all.zip ]] || continue
	mkdir -p "$D/osv-scalibr/$eco"
	ln -sfn "$OSV/$eco/all.zip" "$D/osv-scalibr/$eco/all.zip"
done
# Offline, osv-scanner fails (exit 127, "no offline version of the OSV database is available") when an
# ecosystem it found packages of has no database; Customs has no advisories for those either. Give each such
# ecosystem an empty database, so both sides match against exactly the same records.
for eco in npm PyPI Maven crates.io RubyGems Packagist NuGet Pub Hex Alpine Ubuntu; do
	[[ -e $D/osv-scalibr/$eco/all.zip ]] && continue
	mkdir -p "$D/osv-scalibr/$eco"
	python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1], "w").close()' "$D/osv-scalibr/$eco/all.zip"
done

# --- osv-scanner -------------------------------------------------------------------------------------------
for pair in $IMAGES; do
	name=${pair%%=*}
	tar="$BENCH_DIR/images/$name.tar"
	[[ -f $tar ]] || die "no $tar: run fixture.sh first"
	log "osv-scanner scan image --archive $tar"
	rc=0
	osv-scanner scan image --archive "$tar" --offline --local-db-path "$D" --all-packages --format json \
		>"$OUT/$name.osv-scanner.json" 2>"$OUT/$name.osv-scanner.err" || rc=$?
	# 0: nothing found, 1: vulnerabilities found; anything else is a failure.
	((rc <= 1)) || { tail -n 20 "$OUT/$name.osv-scanner.err" >&2; die "osv-scanner failed ($rc) on $tar"; }
	# OS packages: osv-scanner names the source package (name) and the binary one (os_package_name); Customs
	# reports the binary package, so compare on the binary name and show the source beside it.
	jq -r '.results[]?.packages[]? | .package as $p | .vulnerabilities[]? |
		[.id, ($p.os_package_name // $p.name), $p.version, $p.ecosystem + (if $p.os_package_name then " source " + $p.name else "" end)] | @tsv' \
		"$OUT/$name.osv-scanner.json" | LC_ALL=C sort -u >"$OUT/$name.osv-scanner.tsv"
	jq -r '.results[]?.packages[]? | .package | [(.os_package_name // .name), .version, .ecosystem, .name] | @tsv' "$OUT/$name.osv-scanner.json" |
		LC_ALL=C sort -u >"$OUT/$name.osv-scanner.packages.tsv"
done

# --- Customs: import the same data, sync, scan, read the findings through the API ---------------------------
DATA="$BENCH_DIR/customs-osv"
zips=()
for eco in "$D"/osv-scalibr/*/; do [[ -L $eco/all.zip ]] && zips+=("$eco/all.zip"); done
customs_fresh "$DATA" "${zips[@]}"
customs_add_registry
customs sync >"$BENCH_DIR/logs/osv-sync.out" 2>&1 || die "customs sync failed: $(cat "$BENCH_DIR/logs/osv-sync.out")"
refs=()
for pair in $IMAGES; do refs+=("${pair#*=}"); done
log "customs scan ${refs[*]}"
customs scan "${refs[@]}" >"$BENCH_DIR/logs/osv-customs-scan.out" 2>&1 || {
	cat "$BENCH_DIR/logs/osv-customs-scan.out" >&2
	die "customs scan failed"
}
cat "$BENCH_DIR/logs/osv-customs-scan.out"

port=$(free_port)
API="http://127.0.0.1:$port"
CUSTOMS_ADDR="127.0.0.1:$port" CUSTOMS_SCAN_WORKERS=0 CUSTOMS_SYNC_INTERVAL=0 CUSTOMS_SCAN_ON_SYNC=false \
	customs serve >"$BENCH_DIR/logs/osv-serve.log" 2>&1 &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do
	[[ $(curl -s -o /dev/null -w '%{http_code}' "$API/v3/auth/tokens" || true) != 000 ]] && break
	kill -0 "$serve_pid" 2>/dev/null || die "customs serve exited: $(tail -n 5 "$BENCH_DIR/logs/osv-serve.log")"
	sleep 0.1
done
auth=$(jq -n --arg p "$CUSTOMS_ADMIN_PASSWORD" '{auth: {identity: {methods: ["password"],
	password: {user: {name: "admin", password: $p, domain: {name: "admin"}}}}, scope: {project: {name: "local-1"}}}}')
curl -fsS -D "$OUT/token.headers" -o "$OUT/token.json" -H 'Content-Type: application/json' -d "$auth" "$API/v3/auth/tokens" ||
	die "no token from $API/v3/auth/tokens (see $BENCH_DIR/logs/osv-serve.log)"
TOKEN=$(tr -d '\r' <"$OUT/token.headers" | awk 'tolower($1) == "x-subject-token:" {print $2}')
PROJECT=$(jq -r .token.project.id "$OUT/token.json")

api() { curl -fsS -H "X-Auth-Token: $TOKEN" "$API/v5/$PROJECT/$1"; }
for pair in $IMAGES; do
	name=${pair%%=*}
	ref=${pair#*=}
	repo=${ref%:*}
	tag=${ref##*:}
	ns=${repo%%/*}
	img=${repo#*/}
	id=$(api "image/swr-repository?image_type=private_image&namespace=$ns&image_name=$img&image_version=$tag&limit=200" |
		jq -r --arg n "$img" --arg t "$tag" '.data_list[] | select(.image_name == $n and .image_version == $t) | .image_id' | head -n 1)
	[[ -n $id ]] || die "no row for $ref in the list"
	: >"$OUT/$name.customs.json"
	offset=0
	while :; do
		page=$(api "image/$id/vulnerabilities?image_type=private_image&namespace=$ns&image_name=$img&tag_name=$tag&limit=200&offset=$offset")
		jq -c '.data_list[]' <<<"$page" >>"$OUT/$name.customs.json"
		total=$(jq .total_num <<<"$page")
		offset=$((offset + 200))
		((offset < total)) || break
	done
	jq -r '[.vul_id, .app_name, .version, .app_path] | @tsv' "$OUT/$name.customs.json" | LC_ALL=C sort -u >"$OUT/$name.customs.tsv"
done
kill "$serve_pid" 2>/dev/null || true

# The package inventories too (the findings only cover ecosystems with advisories): Customs' from its database.
need_apt sqlite3 sqlite3
for pair in $IMAGES; do
	name=${pair%%=*}
	digest=$(crane digest --insecure "$REGISTRY/${pair#*=}")
	sqlite3 -separator $'\t' "$DATA/customs.db" "SELECT p.ecosystem, p.name, p.version FROM scan_packages p
		JOIN manifests m ON m.id = p.manifest_id WHERE m.digest = '$digest'" | LC_ALL=C sort -u >"$OUT/$name.customs.inventory"
	awk -F'\t' '{print $3 "\t" $1 "\t" $2}' "$OUT/$name.osv-scanner.packages.tsv" | LC_ALL=C sort -u >"$OUT/$name.osv-scanner.inventory"
done

# --- differences ----------------------------------------------------------------------------------------------
: >"$OUT/differences.txt"
for pair in $IMAGES; do
	name=${pair%%=*}
	cut -f1,2 "$OUT/$name.osv-scanner.tsv" | LC_ALL=C sort -u >"$OUT/$name.osv-scanner.pairs"
	cut -f1,2 "$OUT/$name.customs.tsv" | LC_ALL=C sort -u >"$OUT/$name.customs.pairs"
	LC_ALL=C comm -23 "$OUT/$name.osv-scanner.pairs" "$OUT/$name.customs.pairs" >"$OUT/$name.only-osv-scanner"
	LC_ALL=C comm -13 "$OUT/$name.osv-scanner.pairs" "$OUT/$name.customs.pairs" >"$OUT/$name.only-customs"
	{
		echo
		echo "== $name (${pair#*=})"
		printf 'osv-scanner: %d packages, %d (id, package) pairs; customs: %d pairs; both: %d\n' \
			"$(wc -l <"$OUT/$name.osv-scanner.packages.tsv")" "$(wc -l <"$OUT/$name.osv-scanner.pairs")" \
			"$(wc -l <"$OUT/$name.customs.pairs")" "$(LC_ALL=C comm -12 "$OUT/$name.osv-scanner.pairs" "$OUT/$name.customs.pairs" | wc -l)"
		printf 'packages (ecosystem, name, version): osv-scanner %d, customs %d, both %d\n' \
			"$(wc -l <"$OUT/$name.osv-scanner.inventory")" "$(wc -l <"$OUT/$name.customs.inventory")" \
			"$(LC_ALL=C comm -12 "$OUT/$name.osv-scanner.inventory" "$OUT/$name.customs.inventory" | wc -l)"
		echo "-- packages only osv-scanner found:"
		LC_ALL=C comm -23 "$OUT/$name.osv-scanner.inventory" "$OUT/$name.customs.inventory"
		echo "-- packages only customs found:"
		LC_ALL=C comm -13 "$OUT/$name.osv-scanner.inventory" "$OUT/$name.customs.inventory"
		echo "-- only osv-scanner (id, package, version, ecosystem):"
		LC_ALL=C join -t $'\t' <(awk -F'\t' '{print $1 "|" $2 "\t" $3 "\t" $4}' "$OUT/$name.osv-scanner.tsv" | LC_ALL=C sort) \
			<(awk -F'\t' '{print $1 "|" $2}' "$OUT/$name.only-osv-scanner" | LC_ALL=C sort) | tr '|' '\t' || true
		echo "-- only customs (id, package, version, path):"
		LC_ALL=C join -t $'\t' <(awk -F'\t' '{print $1 "|" $2 "\t" $3 "\t" $4}' "$OUT/$name.customs.tsv" | LC_ALL=C sort) \
			<(awk -F'\t' '{print $1 "|" $2}' "$OUT/$name.only-customs" | LC_ALL=C sort) | tr '|' '\t' || true
	} | tee -a "$OUT/differences.txt"
done
