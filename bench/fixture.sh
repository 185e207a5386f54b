#!/usr/bin/env bash
# Builds the benchmark images, pushes them to a local Distribution registry and writes docker tarballs:
#   bench/debian:base      Debian 12 (debootstrap --variant=minbase bookworm), one layer
#   bench/app:100mb        base + Go binaries built with vulnerable modules + node_modules + Debian python3 packages
#   bench/big:2gb          base + 3 x 512 MiB of random bytes + a layer of ~40,000 small random files
#   fleet/app-001..200:1.0 base + a small distinct top layer each
#   bench/debian11:old     Debian 11 minbase + a dpkg status listing older package versions + a go1.20 binary
# Tarballs: BENCH_DIR/images/app-100mb.tar, big-2gb.tar, fleet-001.tar..fleet-003.tar, debian11-old.tar.
# Idempotent: every step is skipped when its output exists (remove BENCH_DIR to start over).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
FLEET_SIZE=${FLEET_SIZE:-200}
BIG_RANDOM_MIB=${BIG_RANDOM_MIB:-512}
BIG_SMALL_FILES=${BIG_SMALL_FILES:-40000}
L="$BENCH_DIR/layers"
S="$BENCH_DIR/src"
mkdir -p "$L" "$S"

need_apt debootstrap debootstrap
need_apt npm npm
ensure_crane
ensure_registry
R=$REGISTRY
export CRANE_INSECURE=1

has_tag() { crane digest --insecure "$1" >/dev/null 2>&1; }

# tar_rootfs DIR OUT: a layer of a whole root file system (no device nodes, /proc, /sys).
tar_rootfs() {
	tar --numeric-owner --sort=name -C "$1" --exclude=./dev/* --exclude=./proc/* --exclude=./sys/* -cf "$2.tmp" .
	mv "$2.tmp" "$2"
}

# --- base layer: Debian 12 minbase ---------------------------------------------------------------------
ROOT="$BENCH_DIR/rootfs"
if [[ ! -f $L/base.tar ]]; then
	if [[ ! -f $ROOT/.debootstrap-done ]]; then
		rm -rf "$ROOT"
		log "debootstrap --variant=minbase bookworm ($DEBIAN_MIRROR)"
		debootstrap --variant=minbase bookworm "$ROOT" "$DEBIAN_MIRROR" >"$BENCH_DIR/logs/debootstrap.log" 2>&1 ||
			die "debootstrap failed, see $BENCH_DIR/logs/debootstrap.log"
		rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/cache/apt/archives/*.deb
		touch "$ROOT/.debootstrap-done"
	fi
	log "layer: base"
	tar_rootfs "$ROOT" "$L/base.tar"
fi

# --- python layer: Debian's python3 packages (dist-info / egg-info under /usr/lib/python3/dist-packages) ---
if [[ ! -f $L/python.tar ]]; then
	PYROOT="$BENCH_DIR/rootfs-py"
	rm -rf "$PYROOT"
	cp -a "$ROOT" "$PYROOT"
	rm -f "$PYROOT/.debootstrap-done"
	touch "$PYROOT/.marker"
	sleep 1.1
	log "apt-get install python3-requests python3-urllib3 in a copy of the base"
	{
		chroot "$PYROOT" apt-get update
		DEBIAN_FRONTEND=noninteractive chroot "$PYROOT" apt-get install -y --no-install-recommends python3-requests python3-urllib3
		chroot "$PYROOT" apt-get clean
	} >"$BENCH_DIR/logs/python-apt.log" 2>&1 || die "apt-get in the chroot failed, see $BENCH_DIR/logs/python-apt.log"
	rm -rf "$PYROOT"/var/lib/apt/lists/* "$PYROOT"/var/cache/apt/*.bin
	# The layer: everything created or changed since the marker (ctime), without recursing into directories.
	(cd "$PYROOT" && find . \( -path ./dev -o -path ./proc -o -path ./sys \) -prune -o -cnewer .marker ! -name .marker -print |
		LC_ALL=C sort >"$BENCH_DIR/python-layer.list")
	tar --numeric-owner --no-recursion -C "$PYROOT" -T "$BENCH_DIR/python-layer.list" -cf "$L/python.tar.tmp"
	mv "$L/python.tar.tmp" "$L/python.tar"
	rm -rf "$PYROOT"
fi

# --- Go layer: two binaries with known-vulnerable modules, and the EICAR test file -------------------------
if [[ ! -f $L/go.tar ]]; then
	stage="$BENCH_DIR/stage-go"
	rm -rf "$stage"
	mkdir -p "$stage/usr/local/bin" "$stage/opt/samples"
	build_go() { # build_go NAME MODULE@VERSION IMPORT CODE
		local dir="$S/$1"
		rm -rf "$dir"
		mkdir -p "$dir"
		printf 'package main\n\nimport (\n\t"fmt"\n\t"%s"\n)\n\nfunc main() { fmt.Println(%s) }\n' "$3" "$4" >"$dir/main.go"
		(cd "$dir" && go mod init "bench/$1" >/dev/null 2>&1 && go get "$2" >/dev/null 2>&1 &&
			CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -o "$stage/usr/local/bin/$1" .)
	}
	log "building Go binaries with golang.org/x/text@v0.3.7 and golang.org/x/net@v0.7.0"
	build_go textapp golang.org/x/text@v0.3.7 golang.org/x/text/language 'language.MustParse("en-US")'
	build_go netapp golang.org/x/net@v0.7.0 golang.org/x/net/html 'html.EscapeString("<a>")'
	# EICAR's test string, split so that this script is not itself a match.
	printf '%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS' '-TEST-FILE!$H+H*' >"$stage/opt/samples/eicar.com"
	tar --numeric-owner --sort=name -C "$stage" -cf "$L/go.tar" ./usr ./opt
	rm -rf "$stage"
fi

# --- npm layer: /app/node_modules with old, vulnerable versions --------------------------------------------
if [[ ! -f $L/npm.tar ]]; then
	stage="$BENCH_DIR/stage-npm"
	rm -rf "$stage"
	mkdir -p "$stage/app"
	log "npm install lodash@4.17.15 minimist@1.2.0 express@4.17.1 axios@0.21.0"
	(cd "$stage/app" && echo '{"name":"bench-app","version":"1.0.0","private":true}' >package.json &&
		npm install --no-audit --no-fund --ignore-scripts lodash@4.17.15 minimist@1.2.0 express@4.17.1 axios@0.21.0 \
			>"$BENCH_DIR/logs/npm.log" 2>&1) || die "npm install failed, see $BENCH_DIR/logs/npm.log"
	tar --numeric-owner --sort=name -C "$stage" -cf "$L/npm.tar" ./app
	rm -rf "$stage"
fi

# --- images -----------------------------------------------------------------------------------------------
if ! has_tag "$R/bench/debian:base"; then
	log "push bench/debian:base"
	crane append --insecure -f "$L/base.tar" -t "$R/bench/debian:base" >/dev/null 2>>"$BENCH_DIR/logs/crane.log"
	crane mutate --insecure "$R/bench/debian:base" --set-platform linux/amd64 \
		--env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd bash -t "$R/bench/debian:base" >/dev/null 2>>"$BENCH_DIR/logs/crane.log"
fi

if ! has_tag "$R/bench/app:100mb"; then
	log "push bench/app:100mb"
	crane append --insecure -b "$R/bench/debian:base" -f "$L/go.tar" -f "$L/npm.tar" -f "$L/python.tar" -t "$R/bench/app:100mb" >/dev/null 2>>"$BENCH_DIR/logs/crane.log"
fi
if [[ ! -f $BENCH_DIR/images/app-100mb.tar ]]; then
	crane pull --insecure "$R/bench/app:100mb" "$BENCH_DIR/images/app-100mb.tar.tmp"
	mv "$BENCH_DIR/images/app-100mb.tar.tmp" "$BENCH_DIR/images/app-100mb.tar"
fi

# --- 2 GB image: incompressible big files and many small files ---------------------------------------------
if ! has_tag "$R/bench/big:2gb"; then
	big_layers=()
	for i in 1 2 3; do
		if [[ ! -f $L/big$i.tar ]]; then
			stage="$BENCH_DIR/stage-big"
			rm -rf "$stage"
			mkdir -p "$stage/data"
			log "layer: big$i ($BIG_RANDOM_MIB MiB random)"
			head -c "$((BIG_RANDOM_MIB * 1024 * 1024))" /dev/urandom >"$stage/data/random-$i.bin"
			tar -C "$stage" -cf "$L/big$i.tar.tmp" ./data && mv "$L/big$i.tar.tmp" "$L/big$i.tar"
			rm -rf "$stage"
		fi
		big_layers+=(-f "$L/big$i.tar")
	done
	if [[ ! -f $L/small-files.tar ]]; then
		stage="$BENCH_DIR/stage-small"
		rm -rf "$stage"
		log "layer: $BIG_SMALL_FILES small files"
		python3 - "$stage/srv/files" "$BIG_SMALL_FILES" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(42)
for i in range(n):
    d = os.path.join(root, "%03d" % (i % 400))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%06d.dat" % i), "wb") as f:
        f.write(rnd.randbytes(rnd.randint(512, 16384)))
PY
		tar --sort=name -C "$stage" -cf "$L/small-files.tar.tmp" ./srv && mv "$L/small-files.tar.tmp" "$L/small-files.tar"
		rm -rf "$stage"
	fi
	log "push bench/big:2gb (gzip of ~2 GB of incompressible data: a few minutes)"
	crane append --insecure -b "$R/bench/app:100mb" "${big_layers[@]}" -f "$L/small-files.tar" -t "$R/bench/big:2gb" >/dev/null 2>>"$BENCH_DIR/logs/crane.log"
fi
if [[ ! -f $BENCH_DIR/images/big-2gb.tar ]]; then
	crane pull --insecure "$R/bench/big:2gb" "$BENCH_DIR/images/big-2gb.tar.tmp"
	mv "$BENCH_DIR/images/big-2gb.tar.tmp" "$BENCH_DIR/images/big-2gb.tar"
fi

# --- the fleet: FLEET_SIZE images sharing the base layer --------------------------------------------------
mkdir -p "$L/fleet"
for i in $(seq -f %03g 1 "$FLEET_SIZE"); do
	ref="$R/fleet/app-$i:1.0"
	has_tag "$ref" && continue
	if [[ ! -f $L/fleet/$i.tar ]]; then
		stage="$BENCH_DIR/stage-fleet"
		rm -rf "$stage"
		mkdir -p "$stage/srv/app-$i" "$stage/etc"
		echo "app-$i" >"$stage/etc/bench-app"
		head -c 65536 /dev/urandom >"$stage/srv/app-$i/data.bin"
		printf '#!/bin/sh\necho app-%s\n' "$i" >"$stage/srv/app-$i/run.sh"
		chmod 755 "$stage/srv/app-$i/run.sh"
		tar --numeric-owner --sort=name -C "$stage" -cf "$L/fleet/$i.tar" ./etc ./srv
		rm -rf "$stage"
	fi
	crane append --insecure -b "$R/bench/debian:base" -f "$L/fleet/$i.tar" -t "$ref" >/dev/null 2>>"$BENCH_DIR/logs/crane.log"
	((10#$i % 50 == 0)) && log "fleet: $i of $FLEET_SIZE pushed"
done
for i in 001 002 003; do
	((10#$i > FLEET_SIZE)) && break
	[[ -f $BENCH_DIR/images/fleet-$i.tar ]] && continue
	crane pull --insecure "$R/fleet/app-$i:1.0" "$BENCH_DIR/images/fleet-$i.tar.tmp"
	mv "$BENCH_DIR/images/fleet-$i.tar.tmp" "$BENCH_DIR/images/fleet-$i.tar"
done

# --- Debian 11 with old package versions and an old Go toolchain: exercises the matching on the OSV data --
# The OSV data has no Debian:12 records (it stops at 2023-04) and the mirror only serves current package
# versions, so bench/debian11:old is a real bullseye minbase whose dpkg status, in a layer above, lists
# older versions of its packages (the versions bullseye was released with, where known), plus a Go binary
# built with go1.20.14 and a 2022 golang.org/x/crypto pseudo-version.
ROOT11="$BENCH_DIR/rootfs-11"
if [[ ! -f $L/base11.tar ]]; then
	if [[ ! -f $ROOT11/.debootstrap-done ]]; then
		rm -rf "$ROOT11"
		log "debootstrap --variant=minbase bullseye ($DEBIAN_MIRROR)"
		debootstrap --variant=minbase bullseye "$ROOT11" "$DEBIAN_MIRROR" >"$BENCH_DIR/logs/debootstrap-11.log" 2>&1 ||
			die "debootstrap bullseye failed, see $BENCH_DIR/logs/debootstrap-11.log"
		rm -rf "$ROOT11"/var/lib/apt/lists/* "$ROOT11"/var/cache/apt/*.bin "$ROOT11"/var/cache/apt/archives/*.deb
		touch "$ROOT11/.debootstrap-done"
	fi
	log "layer: base11"
	tar_rootfs "$ROOT11" "$L/base11.tar"
fi
if [[ ! -f $L/old-status.tar ]]; then
	stage="$BENCH_DIR/stage-old-status"
	rm -rf "$stage"
	mkdir -p "$stage/var/lib/dpkg"
	python3 - "$ROOT11/var/lib/dpkg/status" "$stage/var/lib/dpkg/status" "$BENCH_DIR/old-status.changes" <<'PY2'
import re, sys
# Source package -> an older version (bullseye's release versions where known).
OLD = {
    "openssl": "1.1.1k-1", "zlib": "1:1.2.11.dfsg-2", "gzip": "1.10-4", "xz-utils": "5.2.5-2",
    "dpkg": "1.20.9", "libtasn1-6": "4.16.0-2", "gnutls28": "3.7.1-5", "krb5": "1.18.3-6",
    "openldap": "2.4.57+dfsg-3", "libgcrypt20": "1.8.7-6", "systemd": "247.3-6", "glibc": "2.31-13",
    "e2fsprogs": "1.46.2-2", "ncurses": "6.2+20201114-2", "pcre2": "10.36-2", "util-linux": "2.36.1-8",
    "libzstd": "1.4.8+dfsg-2.1", "lz4": "1.9.3-2", "libseccomp": "2.5.1-1", "shadow": "1:4.8.1-1",
    "tar": "1.34+dfsg-1", "apt": "2.2.4", "gnupg2": "2.2.27-2", "nettle": "3.7.3-1",
    "libxml2": "2.9.10+dfsg-6.7", "curl": "7.74.0-1.3+deb11u1", "sqlite3": "3.34.1-3",
    "cyrus-sasl2": "2.1.27+dfsg-2.1", "libidn2": "2.3.0-5", "bzip2": "1.0.8-4", "libcap2": "1:2.44-1",
    "pam": "1.4.0-9", "perl": "5.32.1-4", "bash": "5.1-2", "coreutils": "8.32-4", "libffi": "3.3-6",
    "p11-kit": "0.23.22-1", "libunistring": "0.9.10-4", "audit": "1:3.0-2", "libselinux": "3.1-3",
    "tzdata": "2021a-1", "db5.3": "5.3.28+dfsg1-0.8", "gcc-10": "10.2.1-6", "expat": "2.2.10-2",
}
src_path, out_path, changes_path = sys.argv[1:]
stanzas = open(src_path).read().strip("\n").split("\n\n")
out, changes = [], []
for st in stanzas:
    fields = dict(re.findall(r"^(\S+): (.*)$", st, re.M))
    name, version = fields["Package"], fields["Version"]
    src = fields.get("Source", name)
    m = re.match(r"^(\S+)(?: \((.*)\))?$", src)
    srcname = m.group(1)
    old = OLD.get(srcname)
    if old:
        binver = old
        if m.group(2) and ":" in version and ":" not in old:
            binver = version.split(":")[0] + ":" + old  # bsdutils 1:2.36.1-8 of util-linux (2.36.1-8)
        st = re.sub(r"^Version: .*$", "Version: " + binver, st, flags=re.M)
        if m.group(2):
            st = re.sub(r"^Source: .*$", "Source: %s (%s)" % (srcname, old), st, flags=re.M)
        changes.append("%s\t%s\t%s\t%s" % (name, srcname, version, binver))
    out.append(st)
open(out_path, "w").write("\n\n".join(out) + "\n")
open(changes_path, "w").write("\n".join(changes) + "\n")
PY2
	mkdir -p "$stage/usr/local/bin"
	dir="$S/oldgo"
	rm -rf "$dir"
	mkdir -p "$dir"
	printf 'package main\n\nimport (\n\t"fmt"\n\t"net/http"\n\n\t"golang.org/x/crypto/ssh"\n)\n\nfunc main() { fmt.Println(http.StatusOK, ssh.KeyAlgoED25519) }\n' >"$dir/main.go"
	printf 'module bench/oldgo\n\ngo 1.20\n\nrequire golang.org/x/crypto v0.0.0-20220314234659-1baeb1ce4c0b\n' >"$dir/go.mod"
	log "building a Go binary with go1.20.14 (toolchain download) and golang.org/x/crypto@v0.0.0-20220314234659"
	(cd "$dir" && GOTOOLCHAIN=go1.20.14 go mod tidy && GOTOOLCHAIN=go1.20.14 CGO_ENABLED=0 go build -trimpath -o "$stage/usr/local/bin/oldgo" .) \
		>"$BENCH_DIR/logs/oldgo.log" 2>&1 || die "building oldgo failed, see $BENCH_DIR/logs/oldgo.log"
	tar --numeric-owner --sort=name -C "$stage" -cf "$L/old-status.tar" ./var ./usr
	rm -rf "$stage"
fi
if ! has_tag "$R/bench/debian11:old" || [[ $L/old-status.tar -nt $BENCH_DIR/images/debian11-old.tar ]]; then
	rm -f "$BENCH_DIR/images/debian11-old.tar"
	log "push bench/debian11:old"
	crane append --insecure -f "$L/base11.tar" -f "$L/old-status.tar" -t "$R/bench/debian11:old" >/dev/null 2>>"$BENCH_DIR/logs/crane.log"
	crane mutate --insecure "$R/bench/debian11:old" --set-platform linux/amd64 \
		--env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd bash -t "$R/bench/debian11:old" >/dev/null 2>>"$BENCH_DIR/logs/crane.log"
fi
if [[ ! -f $BENCH_DIR/images/debian11-old.tar ]]; then
	crane pull --insecure "$R/bench/debian11:old" "$BENCH_DIR/images/debian11-old.tar.tmp"
	mv "$BENCH_DIR/images/debian11-old.tar.tmp" "$BENCH_DIR/images/debian11-old.tar"
fi

log "registry $R; images:"
for ref in bench/debian:base bench/app:100mb bench/big:2gb fleet/app-001:1.0 bench/debian11:old; do
	printf '  %-22s %s  %s bytes compressed\n' "$ref" "$(crane digest --insecure "$R/$ref")" \
		"$(crane manifest --insecure "$R/$ref" | jq '[.layers[].size] | add')"
done
ls -l "$BENCH_DIR"/images/*.tar
