#!/bin/sh
# check-unit.sh UNIT BENCHWATCHD [BENCHWATCH]
#
# Checks the configured unit file UNIT offline, without a running systemd (works in a container
# where systemd is not PID 1, as root or not):
#   1. `systemd-analyze verify` prints nothing about the unit;
#   2. `systemd-analyze security --offline=true` rates its exposure 2.0 or lower.
# The programs in ExecStart= and ExecReload= must exist for verify to be silent, so a temporary
# copy of the unit runs BENCHWATCHD and BENCHWATCH (default: the `benchwatch` beside
# BENCHWATCHD, as in the build tree) instead of the install paths or @..@ placeholders.
#
# Exit status: 0 pass, 1 fail, 2 usage, 77 skipped (no systemd-analyze).

set -u

# Exposure is 0..100 internally and shown divided by 10 ("1.1"); --threshold= takes the internal
# value and fails when the exposure is above it. 20 is 2.0.
MAX_EXPOSURE=20

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	echo "usage: $0 UNIT BENCHWATCHD [BENCHWATCH]" >&2
	exit 2
fi
unit=$1
daemon=$2
case $daemon in */*) bindir=${daemon%/*} ;; *) bindir=. ;; esac
cli=${3:-$bindir/benchwatch}

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "SKIP: systemd-analyze not found (install systemd); the unit was not checked"
	exit 77
fi
for f in "$unit" "$daemon" "$cli"; do
	if [ ! -f "$f" ]; then
		echo "FAIL: $f: no such file" >&2
		exit 1
	fi
done
case $daemon in /*) ;; *) daemon=$(pwd)/$daemon ;; esac
case $cli in /*) ;; *) cli=$(pwd)/$cli ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bw-check-unit.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
# The copy keeps the unit's name: verify and security report under it.
copy=$tmp/benchwatch.service

# Replace the program of ExecStart= (benchwatchd) and of ExecReload= (benchwatch), whatever the
# directory or placeholder before it, keeping any -@:+! prefix; then any leftover @BW_*@
# placeholder (Documentation=) with a plausible directory.
sed -E \
	-e "s#^(ExecStart=[-@:+!]*)[^ ]*/benchwatchd( |\$)#\\1$daemon\\2#" \
	-e "s#^(ExecReload=[-@:+!]*)[^ ]*/benchwatch( |\$)#\\1$cli\\2#" \
	-e "s#@BW_[A-Z]*DIR@#/usr/local#g" \
	"$unit" >"$copy" || exit 1
if grep -n '@[A-Z_]*@' "$copy" >&2; then
	echo "FAIL: placeholders left in the unit (above)" >&2
	exit 1
fi

status=0
export SYSTEMD_PAGER='' SYSTEMD_COLORS=0 SYSTEMD_LOG_COLOR=0

# verify also loads the units this one names (network-online.target, ...) and may complain about
# those; only lines about benchwatch.service or the copy's path count.
out=$(systemd-analyze verify "$copy" 2>&1)
rc=$?
about=$(printf '%s\n' "$out" | grep -F -e benchwatch.service -e "$tmp")
if [ $rc -ne 0 ] || [ -n "$about" ]; then
	echo "FAIL: systemd-analyze verify (exit $rc):"
	printf '%s\n' "$out"
	status=1
else
	echo "ok: systemd-analyze verify: nothing about benchwatch.service"
	[ -n "$out" ] && printf 'note: about other units:\n%s\n' "$out"
fi

out=$(systemd-analyze security --offline=true --threshold=$MAX_EXPOSURE --no-pager "$copy" 2>&1)
rc=$?
overall=$(printf '%s\n' "$out" | grep 'Overall exposure level')
figure=$(printf '%s\n' "$overall" | sed -nE 's/.*: ([0-9]+\.[0-9]) .*/\1/p')
if [ -z "$figure" ]; then
	echo "FAIL: systemd-analyze security (exit $rc) gave no exposure level:"
	printf '%s\n' "$out"
	exit 1
fi
# Compare as integers in tenths, independently of --threshold.
tenths=$((${figure%.*} * 10 + ${figure#*.}))
if [ $rc -ne 0 ] || [ "$tenths" -gt $MAX_EXPOSURE ]; then
	echo "FAIL: systemd-analyze security: exposure $figure, limit 2.0 (exit $rc):"
	printf '%s\n' "$out"
	status=1
else
	echo "ok: systemd-analyze security: exposure ${overall#*: } (limit 2.0)"
fi
exit $status
