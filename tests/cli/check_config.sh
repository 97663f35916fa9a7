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

run "$bw" check-config "$src/tests/conf/bad/url-password.yaml"
case "$err" in *hunter2*) not_ok "a URL's password is quoted back: $err" ;; *) ok ;; esac

# A byte-order mark is accepted.
printf '\357\273\277tests: [{name: a, kind: page, url: "http://127.0.0.1/"}]\n' >"$scratch/bom.yaml"
run "$bw" check-config "$scratch/bom.yaml"
check_status 0 "byte-order mark"
check_contains "$out" "bom.yaml: OK: 1 tests" "byte-order mark"

# 100000 nested lists, and 100000 nested mappings: one message each, no hang, no crash.
head -c 100000 /dev/zero | tr '\0' '[' >"$scratch/deep-lists.yaml"
run "$bw" check-config "$scratch/deep-lists.yaml"
check_status 78 "100000 nested lists"
check_contains "$err" "$scratch/deep-lists.yaml:1:65: nested more than 64 levels deep" "nested lists"
{
  printf 'tests: '
  head -c 100000 /dev/zero | sed 's/\x0/{a: /g'
} >"$scratch/deep-maps.yaml"
run "$bw" check-config "$scratch/deep-maps.yaml"
check_status 78 "100000 nested mappings"
check_contains "$err" "$scratch/deep-maps.yaml:1:260: nested more than 64 levels deep" "nested mappings"

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

# report.password_file must be private to its owner; a bare name is a systemd credential.
printf 'hunter2\n' >"$scratch/smtp-password"
chmod 644 "$scratch/smtp-password"
printf '%s\n' 'tests: [{name: a, kind: page, url: "http://127.0.0.1/"}]' \
  "report: {to: [ops@example.test], username: bw, password_file: $scratch/smtp-password}" \
  >"$scratch/mail.yaml"
run "$bw" check-config "$scratch/mail.yaml"
check_status 78 "password file readable by others"
check_contains "$err" "$scratch/mail.yaml: report.password_file: $scratch/smtp-password: mode 0644 lets its group and everyone read it; a file holding a secret must be readable by its owner only: chmod 600 $scratch/smtp-password" "password file mode"
chmod 600 "$scratch/smtp-password"
run "$bw" check-config "$scratch/mail.yaml"
check_status 0 "private password file"
mkdir "$scratch/credentials"
cp "$scratch/smtp-password" "$scratch/credentials/smtp-password"
chmod 640 "$scratch/credentials/smtp-password"
sed -i "s|password_file: .*}|password_file: smtp-password}|" "$scratch/mail.yaml"
run env CREDENTIALS_DIRECTORY="$scratch/credentials" "$bw" check-config "$scratch/mail.yaml"
check_status 78 "credential readable by its group"
check_contains "$err" "report.password_file: $scratch/credentials/smtp-password: mode 0640 lets its group read it" "credential mode"
chmod 400 "$scratch/credentials/smtp-password"
run env CREDENTIALS_DIRECTORY="$scratch/credentials" "$bw" check-config "$scratch/mail.yaml"
check_status 0 "private credential"
rm "$scratch/credentials/smtp-password"
run env CREDENTIALS_DIRECTORY="$scratch/credentials" "$bw" check-config "$scratch/mail.yaml"
check_status 0 "a password file that does not exist yet is reported at send time"

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
