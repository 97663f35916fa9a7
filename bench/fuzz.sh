#!/bin/sh
# A longer fuzz campaign than the suite's: builds the libFuzzer harnesses (build-fuzz, clang,
# ASan + UBSan) and runs each in turn for SECONDS, then prints one line per harness: inputs run,
# inputs per second, coverage (cov: edges of libbenchwatch reached; ft: libFuzzer's finer
# features) and the corpus it ended with. bench/fuzz.md explains the numbers and keeps the last
# ones measured.
#
# usage: bench/fuzz.sh [-t SECONDS] [NAME...]     NAME: config, import, http, response (default: all)
#
# The corpus grows across campaigns in build-fuzz/campaign/NAME (seeded from tests/fuzz/corpus/
# NAME); a finding is saved as build-fuzz/campaign/NAME-crash-* (or -leak-, -timeout-, -oom-)
# and the script exits 1. Replay one with build-fuzz/tests/fuzz/fuzz_NAME FILE. Extra libFuzzer
# flags go in FUZZ_ARGS, e.g. FUZZ_ARGS=-fork=2 to use two cores.
set -eu
cd "$(dirname "$0")/.."
seconds=300
while getopts t: opt; do
  case $opt in
  t) seconds=$OPTARG ;;
  *) echo "usage: $0 [-t SECONDS] [config|import|http|response...]" >&2; exit 64 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- config import http response

CC=clang cmake -S . -B build-fuzz -DBW_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j "$(nproc 2>/dev/null || echo 2)" --target fuzz >/dev/null

export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
status=0
summary=""
for name in "$@"; do
  case $name in
  config) max_len=8192 ;;
  import | http) max_len=4096 ;;
  *) echo "$0: unknown harness $name (config, import, http)" >&2; exit 64 ;;
  esac
  dir=build-fuzz/campaign
  mkdir -p "$dir/$name"
  log=$dir/$name.log
  echo "fuzz: $name for ${seconds}s (log: $log)"
  # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
  if ! build-fuzz/tests/fuzz/fuzz_"$name" -max_total_time="$seconds" -max_len="$max_len" \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$dir/$name-" ${FUZZ_ARGS:-} \
    "$dir/$name" "tests/fuzz/corpus/$name" >"$log" 2>&1; then
    echo "fuzz: $name FOUND SOMETHING: see $log and $dir/$name-*" >&2
    status=1
  fi
  # The last status line ("#N DONE/pulse/NEW cov: .. ft: .. corp: n/size ..") and the totals.
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
  corp=$(echo "$last" | sed -n 's/.* corp: \([^ ]*\).*/\1/p')
  summary="$summary$(printf '| %s | %s | %s | %s | %s | %s | %s |' "$name" "$seconds" \
    "${runs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")
"
done
echo
echo "| harness | seconds | inputs run | inputs/s | cov | ft | corpus (inputs/bytes) |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
printf '%s' "$summary"
exit $status
