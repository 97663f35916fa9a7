#!/usr/bin/env bash
# Proves the test servers do what the integration tests rely on: bw_faultd's endpoints measured
# with the curl CLI (sizes, timings, curl's exit codes for each fault, keep-alive, concurrency, a
# clean SIGTERM exit with no sanitizer report), and nginx.sh's nginx serving its files.
#
#   tests/servers/selftest.sh BUILD/tests/servers/bw_faultd
#
# Prints one line per check and "N passed, M failed"; exits 1 when any check failed. Without
# nginx its checks are skipped, not failed.
set -u

faultd=${1:?usage: selftest.sh PATH/TO/bw_faultd}
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d)
passed=0
failed=0
faultd_pid=
nginx_dir=

cleanup() {
  if [ -n "$faultd_pid" ]; then
    kill -TERM "$faultd_pid" 2>/dev/null
    wait "$faultd_pid" 2>/dev/null
  fi
  if [ -n "$nginx_dir" ]; then
    "$here/nginx.sh" stop "$nginx_dir" >/dev/null 2>&1
  fi
  rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() {
  passed=$((passed + 1))
  printf 'ok    %s\n' "$1"
}

fail() {
  failed=$((failed + 1))
  printf 'FAIL  %s\n' "$1"
}

# check NAME COMMAND...: passes when COMMAND succeeds.
check() {
  local name=$1
  shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}

# Whether number $1 lies in [$2, $3].
between() {
  awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x <= hi) }'
}

# fetch URL [CURL ARGS...]: one transfer; sets rc (curl's exit status), code, size and secs.
fetch() {
  local out
  out=$(curl -sS --max-time 20 -o "$scratch/body" \
    -w '%{http_code} %{size_download} %{time_total}' "$@" 2>"$scratch/curl.err")
  rc=$?
  read -r code size secs <<<"$out"
}

# ---- bw_faultd ----

"$faultd" --port-file "$scratch/faultd.port" 2>"$scratch/faultd.err" &
faultd_pid=$!
for _ in $(seq 1 100); do
  [ -s "$scratch/faultd.port" ] && break
  kill -0 "$faultd_pid" 2>/dev/null || break
  sleep 0.05
done
if [ ! -s "$scratch/faultd.port" ]; then
  cat "$scratch/faultd.err" >&2
  fail "bw_faultd starts and writes its port file"
  echo "$passed passed, $failed failed"
  exit 1
fi
u=http://127.0.0.1:$(cat "$scratch/faultd.port")
pass "bw_faultd listens on ${u#http://}"

fetch "$u/bytes?size=1000000"
check "/bytes?size=1000000: status $code, $size bytes in ${secs}s" \
  test "$rc/$code/$size" = 0/200/1000000
yes 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz- | head -c 1000000 \
  >"$scratch/filler"
check "/bytes body is the documented filler" cmp -s "$scratch/filler" "$scratch/body"

fetch -I "$u/bytes?size=5000"
check "HEAD /bytes?size=5000 announces Content-Length: 5000 and sends no body" \
  grep -q $'^Content-Length: 5000\r$' "$scratch/body"

fetch "$u/delay?ms=200"
check "/delay?ms=200: ${secs}s (want 0.200-0.260), $size bytes (want 128)" \
  test "$rc/$size" = 0/128 -a "$(between "$secs" 0.200 0.260 && echo y)" = y

fetch "$u/trickle?rate=262144&size=786432"
rate=$(awk -v s="$size" -v t="$secs" 'BEGIN { printf "%.0f", (t > 0 ? s / t : 0) }')
check "/trickle?rate=262144&size=786432: ${secs}s (want 2.9-3.3), $size bytes, $rate B/s" \
  test "$rc/$size" = 0/786432 -a "$(between "$secs" 2.9 3.3 && echo y)" = y

fetch "$u/stall?after=100000&seconds=1.5&size=200000"
check "/stall?after=100000&seconds=1.5&size=200000: ${secs}s (want 1.5-1.8), $size bytes" \
  test "$rc/$size" = 0/200000 -a "$(between "$secs" 1.5 1.8 && echo y)" = y

fetch "$u/stall?after=100000&seconds=0.5&every=100000&size=300000"
check "/stall?after=100000&seconds=0.5&every=100000&size=300000: ${secs}s (want 1.0-1.3), $size bytes" \
  test "$rc/$size" = 0/300000 -a "$(between "$secs" 1.0 1.3 && echo y)" = y

fetch "$u/collapse?fast=100000&rate=100000&size=300000"
check "/collapse?fast=100000&rate=100000&size=300000: ${secs}s (want 1.9-2.3), $size bytes" \
  test "$rc/$size" = 0/300000 -a "$(between "$secs" 1.9 2.3 && echo y)" = y

fetch "$u/reset?after=1000&size=100000"
check "/reset?after=1000&size=100000: curl exit $rc (want 56) after $size bytes (want 1000)" \
  test "$rc/$size" = 56/1000

fetch "$u/lie?claim=1000&send=10"
check "/lie?claim=1000&send=10: curl exit $rc (want 18) after $size bytes (want 10)" \
  test "$rc/$size" = 18/10

fetch "$u/status?code=503"
check "/status?code=503: status $code, $size bytes" test "$rc/$code/$size" = 0/503/128
fetch "$u/status?code=204"
check "/status?code=204: status $code, $size bytes" test "$rc/$code/$size" = 0/204/0

fetch -L --max-redirs 5 "$u/redirect-loop"
check "/redirect-loop with -L --max-redirs 5: curl exit $rc (want 47)" test "$rc" = 47

fetch --max-time 1 "$u/hang"
check "/hang: no answer, curl exit $rc (want 28, timeout) after ${secs}s" test "$rc/$code" = 28/000

fetch --max-time 1 "$u/headers?size=1000"
check "/headers?size=1000: status $code, then nothing: curl exit $rc (want 28) after $size bytes" \
  test "$rc/$code/$size" = 28/200/0

conns=$(curl -s --max-time 10 -o /dev/null -o /dev/null -w '%{num_connects}\n' \
  "$u/bytes?size=100000" "$u/delay?ms=10" | tr '\n' ' ')
check "keep-alive: connections opened per request: $conns(want 1 0)" test "$conns" = "1 0 "

fetch "$u/nowhere"
check "/nowhere: status $code (want 404)" test "$code" = 404
for q in "bytes?size=abc" "bytes?size=-1" "bytes?size=68719476737" "bytes?bogus=1" \
  "trickle?size=10" "stall?after=5&seconds=1&size=4" "status?code=99" "lie?claim=5&send=5"; do
  fetch "$u/$q"
  check "/$q: status $code (want 400): $(head -c 80 "$scratch/body" | tr -d '\n')" \
    test "$code" = 400
done

# 50 connections at once, each waiting 200 ms: one wave, so about 0.2 s in all, not 50 x 0.2 s.
args=()
for _ in $(seq 1 50); do
  args+=(-o /dev/null "$u/delay?ms=200&size=100000")
done
start=$(date +%s.%N)
curl -s --max-time 20 -Z --parallel-immediate --parallel-max 50 \
  -w '%{http_code} %{size_download}\n' "${args[@]}" >"$scratch/parallel" 2>"$scratch/curl.err"
end=$(date +%s.%N)
ok=$(grep -c '^200 100000$' "$scratch/parallel")
wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
check "50 concurrent /delay?ms=200: $ok of 50 complete in ${wall}s (want < 1.0s)" \
  test "$ok" = 50 -a "$(between "$wall" 0 1.0 && echo y)" = y

# ---- nginx ----

nginx_dir=$scratch/nginx
port=$("$here/nginx.sh" start "$nginx_dir" 2>"$scratch/nginx.err")
status=$?
if [ "$status" = 77 ]; then
  echo "skip  nginx checks: $(cat "$scratch/nginx.err")"
  nginx_dir=
elif [ "$status" != 0 ]; then
  cat "$scratch/nginx.err"
  fail "nginx.sh start"
  nginx_dir=
else
  n=http://127.0.0.1:$port
  pass "nginx.sh start: nginx on port $port"
  want=$(stat -c %s "$nginx_dir/www/index.html")
  fetch "$n/index.html"
  check "nginx /index.html: status $code, $size bytes (want $want)" \
    test "$rc/$code/$size" = "0/200/$want"
  want=$(stat -c %s "$nginx_dir/www/big.bin")
  fetch "$n/big.bin"
  check "nginx /big.bin: status $code, $size bytes (want $want) in ${secs}s" \
    test "$rc/$code/$size" = "0/200/$want"
  conns=$(curl -s --max-time 10 -o /dev/null -o /dev/null -w '%{num_connects}\n' \
    "$n/small.txt" "$n/index.html" | tr '\n' ' ')
  check "nginx keep-alive: connections opened per request: $conns(want 1 0)" \
    test "$conns" = "1 0 "
  pid=$(cat "$nginx_dir/nginx.pid")
  "$here/nginx.sh" stop "$nginx_dir"
  status=$?
  # Gone, or a zombie that init has not reaped yet.
  state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1)
  check "nginx.sh stop: exit $status, master $pid gone" test "$status/${state:-gone}" = 0/gone -o \
    "$status/${state:-gone}" = 0/Z
  nginx_dir=
fi

# ---- bw_faultd shuts down cleanly (and, in a sanitizer build, without a report) ----

kill -TERM "$faultd_pid"
wait "$faultd_pid"
status=$?
faultd_pid=
check "bw_faultd exits $status on SIGTERM (want 0)" test "$status" = 0
if grep -qE 'Sanitizer|runtime error' "$scratch/faultd.err"; then
  cat "$scratch/faultd.err"
  fail "bw_faultd stderr has a sanitizer report"
else
  pass "bw_faultd stderr has no sanitizer report"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
