#!/usr/bin/env bash
# benchwatch check-config: exit 0 and one summary line for a good file, exit 78 and every expected
# FILE:LINE:COL message for each broken file in tests/conf/bad/, 64 for usage errors.
bw=$1
src=$2
. "$src/tests/cli/lib.sh"

run "$bw" check-config "$src/conf/benchwatch.yaml"
check_status 0 "example config"
check_contains "$out" "benchwatch.yaml: OK: 3 tests (2 page, 1 download), 5 targets, database /var/lib/benchwatch/benchwatch.db" "summary line"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && ok || not_ok "summary is one line: $out"

# --print shows the resolved config, and what it prints is itself a valid config.
run "$bw" check-config --print "$src/conf/benchwatch.yaml"
check_status 0 "--print"
check_contains "$out" "jitter: 30s" "--print shows inherited defaults"
printf '%s\n' "$out" >"$scratch/printed.yaml"
run "$bw" check-config "$scratch/printed.yaml"
check_status 0 "printed config re-read"

for f in "$src"/tests/conf/bad/*.yaml; do
  name=$(basename "$f")
  run "$bw" check-config "$f"
  check_status 78 "$name"
  while IFS= read -r line; do
    check_contains "$err" "$f:${line#\# expect: }" "$name"
  done < <(grep -a '^# expect: ' "$f")
  if grep -q '^# expect: ' "$f" && [ "$(grep -ac '^# expect: ' "$f")" -gt 1 ]; then
    check_contains "$err" "$f: $(grep -ac '^# expect: ' "$f") problems" "$name count"
  fi
done

run "$bw" check-config "$scratch/missing.yaml"
check_status 78 "missing file"
check_contains "$err" "$scratch/missing.yaml: no such file" "missing file"

run "$bw" check-config "$scratch"
check_status 78 "directory"
check_contains "$err" "$scratch: is a directory, not a file" "directory"

: >"$scratch/empty.yaml"
run "$bw" check-config "$scratch/empty.yaml"
check_status 78 "empty file"
check_contains "$err" "$scratch/empty.yaml: the file is empty" "empty file"

if [ "$(id -u)" -ne 0 ]; then
  cp "$src/conf/benchwatch.yaml" "$scratch/secret.yaml"
  chmod 000 "$scratch/secret.yaml"
  run "$bw" check-config "$scratch/secret.yaml"
  check_status 78 "unreadable file"
  check_contains "$err" "cannot open: Permission denied" "unreadable file"
fi

run "$bw" check-config
check_status 64 "no file"
check_contains "$err" "usage: benchwatch check-config" "usage"
run "$bw" frobnicate
check_status 64 "unknown command"
check_contains "$err" "unknown command \"frobnicate\"" "unknown command"
run "$bw" --help
check_status 0 "--help"
check_contains "$out" "check-config" "--help lists commands"

finish
