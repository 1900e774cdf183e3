#!/bin/sh
# install.sh — install AoEde: the `aoede` binary and its service files.
#
#   Linux:   builds the binary from this checkout (fetching Bun through npm if it
#            is missing), installs PREFIX/sbin/aoede, the systemd template unit
#            /etc/systemd/system/aoede@.service and /etc/aoede/ (one NAME.conf
#            per export), the daemon's unit aoede.service with
#            /etc/aoede/aoede.toml.sample (every export in one file), and
#            aoede-tree.service (the aoe(3) tree, `aoede mount`).
#   FreeBSD: installs PREFIX/sbin/aoede (dist/aoede-freebsd-x64, built on any
#            machine with `bun run build`), PREFIX/etc/rc.d/aoede and
#            PREFIX/etc/rc.d/aoede_tree.
#   Both:    the manual page PREFIX/share/man/man8/aoede.8, and with --links the
#            drop-in names vblade, aoe-stat, aoe-discover as links to aoede.
#
# Everything installed is listed in PREFIX/share/aoede/installed; --uninstall
# removes exactly that (and never your /etc/aoede/*.conf or rc.conf lines).
#
# POSIX sh; run as root unless --root points somewhere you may write.

set -eu

usage() {
	cat <<'EOF'
Usage: sh install.sh [options]

  --prefix DIR     install under DIR (default /usr/local): DIR/sbin/aoede
  --root DIR       stage the whole installation under DIR (alias --destdir); no
                   service manager is told, nothing outside DIR is touched
  --binary FILE    install this aoede binary instead of building one
  --os linux|freebsd
                   install for this system (default: this machine's)
  --links          also make PREFIX/sbin/vblade, aoe-stat and aoe-discover, links
                   to aoede that act as those tools (off by default: they would
                   shadow a real vblade or aoetools; an existing file is kept)
  --demo           after installing, run `aoede demo` (needs root)
  --uninstall      remove what an earlier install.sh put there (same --prefix/--root)
  -h, --help       this text

Examples:
  sudo ./install.sh --demo                       build, install, run the demo
  sudo ./install.sh --links                      aoede, and vblade, aoe-stat, aoe-discover
  sudo ./install.sh --uninstall
  ./install.sh --root /tmp/stage --binary dist/aoede
  sh install.sh --binary ./aoede-freebsd-x64     on FreeBSD, with a copied binary
EOF
}

say() { printf 'install: %s\n' "$*"; }
die() { printf 'install: %s\n' "$*" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
prefix=/usr/local
root=
binary=
os=
demo=0
links=0
uninstall=0

while [ $# -gt 0 ]; do
	case "$1" in
	--prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix=$2; shift 2 ;;
	--prefix=*) prefix=${1#*=}; shift ;;
	--root|--destdir) [ $# -ge 2 ] || die "$1 needs a directory"; root=$2; shift 2 ;;
	--root=*|--destdir=*) root=${1#*=}; shift ;;
	--binary) [ $# -ge 2 ] || die "--binary needs a file"; binary=$2; shift 2 ;;
	--binary=*) binary=${1#*=}; shift ;;
	--os) [ $# -ge 2 ] || die "--os needs linux or freebsd"; os=$2; shift 2 ;;
	--os=*) os=${1#*=}; shift ;;
	--demo) demo=1; shift ;;
	--links) links=1; shift ;;
	--uninstall) uninstall=1; shift ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; die "unknown option: $1" ;;
	esac
done

case "$prefix" in /*) ;; *) die "--prefix must be an absolute path" ;; esac
prefix=${prefix%/}
[ -n "$prefix" ] || die "--prefix / is not supported; try --prefix /usr"
if [ -n "$root" ]; then
	mkdir -p "$root" || die "cannot create $root"
	root=$(cd "$root" && pwd)
	[ "$root" != / ] || root=
fi
if [ -n "$binary" ]; then
	[ -f "$binary" ] || die "no such file: $binary"
	binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")
fi

if [ -z "$root" ] && [ "$(id -u)" != 0 ]; then
	die "installing into the system needs root: sudo sh install.sh ... (or stage with --root DIR)"
fi

host_os=$(uname -s | tr 'A-Z' 'a-z')
[ -n "$os" ] || os=$host_os
case "$os" in
linux|freebsd) ;;
*) die "unsupported system '$os' (linux or freebsd)" ;;
esac

# Installed paths: as the running system sees them, and as staged under --root.
sbindir=$prefix/sbin
bin=$sbindir/aoede
sharedir=$prefix/share/aoede
manifest=$sharedir/installed
unitdir=/etc/systemd/system
unit=$unitdir/aoede@.service
treeunit=$unitdir/aoede-tree.service
confdir=/etc/aoede
sample=$confdir/example.conf.sample
dunit=$unitdir/aoede.service
rcdir=$prefix/etc/rc.d
rcscript=$rcdir/aoede
# the daemon's sample config: /etc/aoede on Linux, PREFIX/etc/aoede on FreeBSD
tomlsample=$confdir/aoede.toml.sample
[ "$os" = freebsd ] && tomlsample=$prefix/etc/aoede/aoede.toml.sample
treesample=$confdir/tree.conf.sample
rcdir=$prefix/etc/rc.d
rcscript=$rcdir/aoede
rctree=$rcdir/aoede_tree
manpage=$prefix/share/man/man8/aoede.8
# The names aoede answers to as a drop-in (src/cli/dropin.ts), made by --links.
dropins="vblade aoe-stat aoe-discover"

# Only the real system (no --root) is told about services.
live() { [ -z "$root" ] && [ "$os" = "$host_os" ]; }

# ---- recording what we create ------------------------------------------------
created=
record() { created="$created$1
"; }

# mkdir -p that records every directory it creates (outermost first)
mkdirs() {
	_want=$1
	_missing=
	while [ ! -d "$root$_want" ]; do
		_missing="$_want $_missing"
		_want=$(dirname "$_want")
	done
	for _d in $_missing; do
		mkdir "$root$_d" || die "cannot create $root$_d (run as root?)"
		record "dir $_d"
	done
}

# put FILE MODE SRC: install SRC at FILE, recorded
put() {
	mkdirs "$(dirname "$1")"
	cp "$3" "$root$1.tmp.$$" || die "cannot write $root$1 (run as root?)"
	chmod "$2" "$root$1.tmp.$$"
	mv -f "$root$1.tmp.$$" "$root$1"
	record "file $1"
}

# ---- uninstall ---------------------------------------------------------------
do_uninstall() {
	if [ -f "$root$manifest" ]; then
		list=$(cat "$root$manifest")
	else
		say "no $root$manifest; removing the usual files"
		list="file $bin
file $unit
file $treeunit
file $sample
file $dunit
file $tomlsample
file $treesample
file $rcscript
file $rctree
file $manpage
dir $confdir"
	fi
	if live; then
		if [ "$os" = linux ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
			for u in $(systemctl list-units --all --plain --no-legend 'aoede@*.service' 'aoede.service' 'aoede-tree.service' 2>/dev/null | awk '{print $1}') \
				$(find /etc/systemd/system -name 'aoede@?*.service' -type l 2>/dev/null | xargs -r -n1 basename); do
				say "stopping and disabling $u"
				systemctl disable --now "$u" >/dev/null 2>&1 || true
			done
		fi
		if [ "$os" = freebsd ] && [ -x "$rcscript" ]; then
			"$rcscript" onestop >/dev/null 2>&1 || true
		fi
		if [ "$os" = freebsd ] && [ -x "$rctree" ]; then
			"$rctree" onestop >/dev/null 2>&1 || true
		fi
	fi
	# files first, then directories deepest first, each only if now empty
	echo "$list" | while read -r kind path; do
		[ "$kind" = file ] || continue
		if [ -e "$root$path" ] || [ -L "$root$path" ]; then
			rm -f "$root$path" && say "removed $root$path"
		fi
	done
	rm -f "$root$manifest"
	echo "$list" | awk '$1 == "dir" { print $2 }' | sort -r | while read -r d; do
		[ -d "$root$d" ] || continue
		if rmdir "$root$d" 2>/dev/null; then
			say "removed $root$d/"
		else
			say "kept $root$d/ (not empty)"
		fi
	done
	if live && [ "$os" = linux ] && [ -d /run/systemd/system ]; then
		systemctl daemon-reload || true
	fi
	if [ "$os" = freebsd ]; then
		say "rc.conf is yours: remove its aoede_* lines with sysrc -x if you like"
	fi
	say "uninstalled"
}

if [ "$uninstall" = 1 ]; then
	do_uninstall
	exit 0
fi

# ---- the binary --------------------------------------------------------------
find_bun() {
	# scripts/setup.sh (bash) installs Bun from npm into node_modules and prints its path
	if command -v bash >/dev/null 2>&1 && [ -f "$here/scripts/setup.sh" ]; then
		bash "$here/scripts/setup.sh" | tail -n 1
		return
	fi
	if [ -x "$here/node_modules/.bin/bun" ] && "$here/node_modules/.bin/bun" --version >/dev/null 2>&1; then
		echo "$here/node_modules/.bin/bun"
		return
	fi
	if command -v bun >/dev/null 2>&1; then
		command -v bun
		return
	fi
	command -v npm >/dev/null 2>&1 || die "Bun is missing and so is npm: install Node.js and npm first"
	(cd "$here" && npm ci --no-audit --no-fund >&2) || die "npm ci failed"
	"$here/node_modules/.bin/bun" --version >/dev/null 2>&1 || die "npm installed no working Bun"
	echo "$here/node_modules/.bin/bun"
}

build_host() {
	[ -f "$here/package.json" ] && [ -f "$here/scripts/build.ts" ] ||
		die "not in an AoEde checkout: pass --binary FILE"
	bun=$(find_bun) || die "could not get Bun"
	[ -n "$bun" ] || die "could not get Bun"
	say "building with $bun"
	(cd "$here" && "$bun" scripts/build.ts --only host) >&2 || die "build failed"
	binary=$here/dist/aoede
}

if [ -z "$binary" ]; then
	if [ "$os" = "$host_os" ]; then
		if [ "$os" = freebsd ] && [ -x "$here/dist/aoede-freebsd-x64" ] && [ "$(uname -m)" = amd64 ]; then
			binary=$here/dist/aoede-freebsd-x64
		else
			build_host
		fi
	elif [ "$os" = freebsd ] && [ -f "$here/dist/aoede-freebsd-x64" ]; then
		binary=$here/dist/aoede-freebsd-x64
	else
		die "installing for $os from $host_os: pass --binary FILE (bun run build makes dist/aoede-*)"
	fi
fi
if [ "$os" = "$host_os" ]; then
	version=$("$binary" --version 2>/dev/null) || die "$binary does not run here (wrong platform?)"
	say "installing $version"
fi

# ---- files -------------------------------------------------------------------
[ -f "$root$manifest" ] && previous=$(cat "$root$manifest") || previous=
tmp=$(mktemp -d "${TMPDIR:-/tmp}/aoede-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

put "$bin" 0755 "$binary"

if [ -f "$here/man/aoede.8" ]; then
	put "$manpage" 0644 "$here/man/aoede.8"
else
	say "no man/aoede.8 next to install.sh: the manual page is not installed"
fi

# Drop-in names: relative symbolic links beside the binary. A file that an earlier
# install did not record is someone else's (a real vblade): it stays.
if [ "$links" = 1 ]; then
	for name in $dropins; do
		link=$sbindir/$name
		if { [ -e "$root$link" ] || [ -L "$root$link" ]; } && ! echo "$previous" | grep -qx "file $link"; then
			say "kept $root$link: it is not from an earlier install (a real $name?); no link made"
			continue
		fi
		rm -f "$root$link"
		ln -s aoede "$root$link" || die "cannot make the link $root$link"
		record "file $link"
		say "linked $root$link -> aoede"
	done
fi

case "$os" in
linux)
	if [ -n "$root" ] || [ -d /etc/systemd ] || command -v systemctl >/dev/null 2>&1; then
		sed "s#^ExecStart=/usr/local/sbin/aoede #ExecStart=$bin #" \
			"$here/packaging/systemd/aoede@.service" >"$tmp/unit"
		put "$unit" 0644 "$tmp/unit"
		mkdirs "$confdir"
		if [ ! -e "$root$sample" ] || echo "$previous" | grep -qx "file $sample"; then
			put "$sample" 0644 "$here/packaging/systemd/example.conf"
		fi
		sed "s#^ExecStart=/usr/local/sbin/aoede #ExecStart=$bin #" \
			"$here/packaging/systemd/aoede.service" >"$tmp/dunit"
		put "$dunit" 0644 "$tmp/dunit"
		put "$tomlsample" 0644 "$here/packaging/aoede.toml.example"
		sed "s#^ExecStart=/usr/local/sbin/aoede #ExecStart=$bin #" \
			"$here/packaging/systemd/aoede-tree.service" >"$tmp/treeunit"
		put "$treeunit" 0644 "$tmp/treeunit"
		if [ ! -e "$root$treesample" ] || echo "$previous" | grep -qx "file $treesample"; then
			put "$treesample" 0644 "$here/packaging/systemd/tree.conf"
		fi
	else
		say "no systemd here: skipping the unit; run \`$bin serve ...\` from your init system"
	fi
	;;
freebsd)
	sed -e "s#^_aoede_script=.*#_aoede_script=\"$rcscript\"#" \
		-e "s#aoede_program:=/usr/local/sbin/aoede#aoede_program:=$bin#" \
		"$here/packaging/freebsd/aoede" >"$tmp/rc"
	put "$rcscript" 0555 "$tmp/rc"
	put "$tomlsample" 0644 "$here/packaging/aoede.toml.example"
	sed -e "s#aoede_tree_program:=/usr/local/sbin/aoede#aoede_tree_program:=$bin#" \
		"$here/packaging/freebsd/aoede_tree" >"$tmp/rctree"
	put "$rctree" 0555 "$tmp/rctree"
	;;
esac

# The manifest: what this run put there, plus anything a previous run recorded.
mkdirs "$sharedir"
record "file $manifest"
printf '%s%s\n' "$previous
" "$created" | awk 'NF && !seen[$0]++' >"$root$manifest.tmp.$$"
mv -f "$root$manifest.tmp.$$" "$root$manifest"

if live && [ "$os" = linux ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload || say "systemctl daemon-reload failed"
fi

say "installed $root$bin"
case "$os" in
linux)
	[ -f "$root$unit" ] && cat <<EOF
install: one export per instance of aoede@.service:
           cp $confdir/example.conf.sample $confdir/disk0.conf    # edit AOEDE_ARGS
           systemctl enable --now aoede@disk0
         or every export in one process (aoede.service, aoede daemon):
           cp $tomlsample $confdir/aoede.toml    # edit; aoede daemon --check -c it
           systemctl enable --now aoede
         the aoe(3) tree at /run/aoe (settings: $confdir/tree.conf.sample):
           systemctl enable --now aoede-tree
EOF
	;;
freebsd)
	cat <<EOF
install: exports start from rc.conf:
           sysrc aoede_enable=YES aoede_exports="disk0"
           sysrc aoede_disk0_flags="9 0 em0 /dev/ada1"
           service aoede start
         or every export in one process (aoede daemon):
           cp $tomlsample ${tomlsample%.sample}; sysrc aoede_enable=YES aoede_config=${tomlsample%.sample}
         the aoe(3) tree at /var/run/aoe:
           sysrc aoede_tree_enable=YES aoede_tree_args="-i em0"
           service aoede_tree start
EOF
	;;
esac

if [ "$demo" = 1 ]; then
	rm -rf "$tmp"
	trap - EXIT INT TERM
	say "running $root$bin demo"
	exec "$root$bin" demo
fi
