#!/bin/bash
# completion.sh BENCHWATCH BENCHWATCHD SOURCE_DIR
#
# The bash completion offers what the programs really take: the commands of `benchwatch --help`,
# each command's options from its own --help, test names from the config, files after --config.
set -u
cli=$1 daemon=$2 src=$3
. "$src/contrib/bash-completion/benchwatch"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bw-completion.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
status=0

# complete PROGRAM-FUNCTION WORD...: COMPREPLY for the last word, one per line, sorted.
complete_words() {
	local fn=$1 prog=$2
	shift 2
	COMP_WORDS=("$prog" "$@")
	COMP_CWORD=$#
	COMPREPLY=()
	"$fn" "$prog" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s\n' "${COMPREPLY[@]}" | sort
}
expect() {
	local want=$1 got
	shift
	got=$(complete_words "$@" | tr '\n' ' ')
	if [ "$got" = "$want" ]; then
		echo "ok: ${*:2} -> $got"
	else
		echo "FAIL: ${*:2}: expected '$want', got '$got'"
		status=1
	fi
}

cat >"$tmp/bw.yaml" <<'YAML'
database: bw.db
tests:
  - {name: portal-home, kind: page, url: "http://127.0.0.1:1/"}
  - {name: portal-api, kind: page, url: "http://127.0.0.1:1/api"}
  - {name: big, kind: download, url: "http://127.0.0.1:1/big"}
YAML
: >"$tmp/other.yaml"

expect "regressions report run " _benchwatch "$cli" r
expect "check-config " _benchwatch "$cli" che
expect "--download " _benchwatch "$cli" run --dow
expect "--keepalive " _benchwatch "$cli" run --kee
expect "--open " _benchwatch "$cli" regressions --op
expect "portal-api portal-home " _benchwatch "$cli" history --config "$tmp/bw.yaml" port
expect "big " _benchwatch "$cli" run --config "$tmp/bw.yaml" b
expect "big " _benchwatch "$cli" export -c "$tmp/bw.yaml" b
expect "portal-api portal-home " _benchwatch "$cli" baseline -C "$tmp/bw.yaml" port
expect " " _benchwatch "$cli" run -c 4 port  # -c is ab's concurrency in run: no tests
expect "history " _benchwatch "$cli" help hi
expect "help " _benchwatch "$cli" he
expect "html " _benchwatch "$cli" report --format h
expect "--ndjson " _benchwatch "$cli" export --nd
expect "--quiet " _benchwatch "$cli" run --qu
expect "$tmp/other.yaml " _benchwatch "$cli" run --config "$tmp/ot"
expect "ab-csv ab-tsv " _benchwatch "$cli" import --format ab
expect "kv " _benchwatch "$cli" import --format k
expect "--streams " _benchwatch "$cli" run --strea
expect "ranges " _benchwatch "$cli" run --split r
expect "--check " _benchwatchd "$daemon" --che
# Every command of the help is offered, and help.
n_help=$("$cli" --help | sed -n '/^commands:/,/^$/p' | grep -c '^  [a-z]')
n_offered=$(complete_words _benchwatch "$cli" "" | grep -c '^[a-z]')
if [ "$n_help" -ge 9 ] && [ "$((n_help + 1))" = "$n_offered" ]; then
	echo "ok: $n_offered commands offered"
else
	echo "FAIL: $n_help commands in --help, $n_offered offered"
	status=1
fi
exit $status
