# Shared by the CLI tests: a scratch directory, checks that count, and a closing line.
set -u
passed=0
failed=0
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

ok() { passed=$((passed + 1)); }
not_ok() {
  failed=$((failed + 1))
  printf 'FAIL: %s\n' "$*" >&2
}

# expect_status WANT DESCRIPTION -- runs the rest, keeps stdout/stderr in $out/$err
run() {
  "$@" >"$scratch/out" 2>"$scratch/err"
  status=$?
  out=$(cat "$scratch/out")
  err=$(cat "$scratch/err")
}

check_status() { # WANT WHAT
  if [ "$status" -eq "$1" ]; then ok; else not_ok "$2: exit $status, expected $1; stderr: $err"; fi
}

check_contains() { # HAYSTACK NEEDLE WHAT
  case "$1" in
  *"$2"*) ok ;;
  *) not_ok "$3: missing \"$2\" in: $1" ;;
  esac
}

finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
