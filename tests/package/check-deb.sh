#!/bin/sh
# check-deb.sh BUILD_DIR SOURCE_DIR VERSION
#
# The installation as a Debian system gets it, without root:
#   1. `cpack -G DEB` in BUILD_DIR makes a .deb whose files are in Debian's paths (programs in
#      /usr/bin and /usr/sbin, the unit in systemd's directory, the example config in
#      /etc/benchwatch as a conffile, SQL and docs in /usr/share), nothing under /usr/local;
#   2. extracted into a scratch root with `dpkg-deb -x`, its programs answer --version and its
#      unit names them by their installed paths and passes systemd/check-unit.sh;
#   3. `cmake --install --prefix P` (into a DESTDIR) gives a unit and config for P, whatever the
#      prefix the build was configured with;
#   4. a build configured without libsystemd gets a Type=simple unit without a watchdog.
# Exit status: 0 pass, 1 fail, 2 usage, 77 skipped (no cpack or dpkg-deb).

set -u
if [ $# -ne 3 ]; then
	echo "usage: $0 BUILD_DIR SOURCE_DIR VERSION" >&2
	exit 2
fi
build=$(cd "$1" && pwd) || exit 2
src=$(cd "$2" && pwd) || exit 2
version=$3
for tool in cpack dpkg-deb; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "SKIP: $tool not found"
		exit 77
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bw-deb.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
status=0
fail() {
	echo "FAIL: $*"
	status=1
}
ok() {
	echo "ok: $*"
}
# expect_line FILE LINE: FILE has LINE exactly.
expect_line() {
	if grep -qxF -- "$2" "$1"; then ok "${1#$tmp/}: $2"; else fail "${1#$tmp/}: no line '$2'"; fi
}

# 1. The package and its paths.
if ! (cd "$build" && cpack -G DEB -B "$tmp/out") >"$tmp/cpack.log" 2>&1; then
	cat "$tmp/cpack.log"
	fail "cpack -G DEB"
	exit 1
fi
deb=$(ls "$tmp"/out/benchwatch_"$version"_*.deb 2>/dev/null)
if [ -z "$deb" ]; then
	ls -l "$tmp/out"
	fail "no benchwatch_${version}_ARCH.deb"
	exit 1
fi
ok "built ${deb##*/}"
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's#^\./#/#' >"$tmp/files"
unitdir=/lib/systemd/system
grep -qx "/usr/lib/systemd/system/benchwatch.service" "$tmp/files" && unitdir=/usr/lib/systemd/system
for f in /usr/bin/benchwatch /usr/sbin/benchwatchd $unitdir/benchwatch.service \
	/etc/benchwatch/benchwatch.yaml.example /usr/share/benchwatch/sql/schema.sql \
	/usr/share/benchwatch/sql/queries.sql /usr/share/doc/benchwatch/README.md; do
	if grep -qxF "$f" "$tmp/files"; then ok "package has $f"; else fail "package lacks $f"; fi
done
for f in /usr/share/bash-completion/completions/benchwatch \
	/usr/share/bash-completion/completions/benchwatchd; do
	if grep -qxF "$f" "$tmp/files"; then ok "package has $f"; else fail "package lacks $f"; fi
done
# Man pages, when the build made them (scdoc installed, as scripts/install-deps does).
if [ -f "$build/doc/benchwatch.1.gz" ]; then
	for f in man1/benchwatch.1.gz man5/benchwatch.yaml.5.gz man8/benchwatchd.8.gz; do
		if grep -qxF "/usr/share/man/$f" "$tmp/files"; then ok "package has $f"; else fail "package lacks $f"; fi
	done
else
	echo "note: built without scdoc: no man pages to check"
fi
if grep -E '^/usr/local|^/opt|/_CPack_Packages|/tmp/' "$tmp/files"; then
	fail "package has files outside Debian's paths (above)"
fi
dpkg-deb -e "$deb" "$tmp/control"
expect_line "$tmp/control/conffiles" /etc/benchwatch/benchwatch.yaml.example
for s in postinst prerm postrm; do
	if [ -x "$tmp/control/$s" ] && sh -n "$tmp/control/$s"; then ok "$s"; else fail "$s"; fi
done
depends=$(dpkg-deb -f "$deb" Depends)
case $depends in
*libcurl*libevent*libsqlite3*libyaml*) ok "Depends: $depends" ;;
*) fail "Depends lacks a library: $depends" ;;
esac

# 2. Extracted into a scratch root.
root=$tmp/root
dpkg-deb -x "$deb" "$root"
for p in usr/bin/benchwatch usr/sbin/benchwatchd; do
	out=$("$root/$p" --version 2>&1)
	if [ "$out" = "${p##*/} $version" ]; then ok "$p --version: $out"; else fail "$p --version: '$out'"; fi
done
unit=$root$unitdir/benchwatch.service
# Each man page renders, with its name and section in the header, and without groff warnings.
for m in man1/benchwatch.1 man5/benchwatch.yaml.5 man8/benchwatchd.8; do
	page=$root/usr/share/man/$m.gz
	[ -f "$page" ] || continue
	name=${m#*/}
	th=$(zcat "$page" | grep '^\.TH')
	case $th in
	".TH \"${name%.*}\" \"${name##*.}\""*) ok "$m: $th" ;;
	*) fail "$m: header '$th'" ;;
	esac
	if command -v groff >/dev/null 2>&1; then
		warn=$(zcat "$page" | groff -man -Tutf8 -ww -z 2>&1)
		if [ -n "$warn" ]; then fail "$m: groff: $warn"; fi
	fi
done
expect_line "$unit" "ExecStart=/usr/sbin/benchwatchd --config /etc/benchwatch/benchwatch.yaml"
expect_line "$unit" "ExecReload=/usr/bin/benchwatch check-config /etc/benchwatch/benchwatch.yaml"
expect_line "$unit" "Documentation=file:/usr/share/doc/benchwatch/README.md"
if grep -n '@[A-Z_]*@' "$unit"; then fail "placeholders left in the unit (above)"; fi
"$root/usr/bin/benchwatch" check-config "$root/etc/benchwatch/benchwatch.yaml.example" \
	>"$tmp/check.log" 2>&1 && ok "the example config passes check-config" ||
	{ cat "$tmp/check.log"; fail "check-config of the example config"; }
sh "$src/systemd/check-unit.sh" "$unit" "$root/usr/sbin/benchwatchd" "$root/usr/bin/benchwatch"
rc=$?
[ $rc -eq 0 ] || [ $rc -eq 77 ] || fail "check-unit.sh on the packaged unit"

# 3. The prefix given at install time decides the paths.
for prefix in /usr /opt/benchwatch; do
	dest=$tmp/install$(echo "$prefix" | tr / -)
	if ! DESTDIR=$dest cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1; then
		cat "$tmp/install.log"
		fail "cmake --install --prefix $prefix"
		continue
	fi
	case $prefix in /usr) etc=/etc ;; *) etc=/etc$prefix ;; esac
	u=$(find "$dest" -name benchwatch.service)
	expect_line "$u" "ExecStart=$prefix/sbin/benchwatchd --config /etc/benchwatch/benchwatch.yaml"
	for f in $prefix/sbin/benchwatchd $prefix/bin/benchwatch $etc/benchwatch/benchwatch.yaml.example; do
		if [ -f "$dest$f" ]; then ok "--prefix $prefix: $f"; else fail "--prefix $prefix: no $f"; fi
	done
done

# 4. Without libsystemd: nothing would send READY=1 or watchdog pings.
if cmake -S "$src" -B "$tmp/nosd" -DBW_SYSTEMD=OFF -DBUILD_TESTING=OFF \
	-DCMAKE_INSTALL_PREFIX=/usr >"$tmp/nosd.log" 2>&1; then
	u=$tmp/nosd/systemd/benchwatch.service
	expect_line "$u" "Type=simple"
	if grep -E '^(WatchdogSec|NotifyAccess)=' "$u"; then fail "watchdog or notify access in a Type=simple unit"; fi
	if grep -q 'sd_notify support enabled' "$tmp/nosd.log"; then
		fail "BW_SYSTEMD=OFF still found libsystemd"
	fi
	sh "$src/systemd/check-unit.sh" "$u" "$root/usr/sbin/benchwatchd" "$root/usr/bin/benchwatch"
	rc=$?
	[ $rc -eq 0 ] || [ $rc -eq 77 ] || fail "check-unit.sh on the Type=simple unit"
	# The build's own unit, with libsystemd, is notify with its watchdog.
	if grep -q '^SYSTEMD_FOUND:INTERNAL=1' "$build/CMakeCache.txt"; then
		expect_line "$build/systemd/benchwatch.service" "Type=notify"
		expect_line "$build/systemd/benchwatch.service" "WatchdogSec=60s"
	fi
else
	cat "$tmp/nosd.log"
	fail "configuring without libsystemd"
fi
exit $status
