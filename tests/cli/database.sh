#!/usr/bin/env bash
# The database as a person sees it with the real sqlite3 CLI: created by the daemon's start-up,
# with the tables, views and schema version; a newer database is refused and left untouched.
bwd=$1
src=$2
bw=$3
. "$src/tests/cli/lib.sh"

cat >"$scratch/bw.yaml" <<YAML
database: data.db
tests:
  - {name: home, kind: page, url: "http://127.0.0.1:1/"}
YAML

run "$bwd" --config "$scratch/bw.yaml" --check
check_status 0 "benchwatchd --check creates the database"
check_contains "$err" "database $scratch/data.db (schema version" "start-up line"
[ -f "$scratch/data.db" ] && ok || not_ok "database file created next to the config"

schema=$(sqlite3 "$scratch/data.db" .schema)
for t in "CREATE TABLE target" "CREATE TABLE run" "CREATE TABLE sample" "CREATE TABLE regression" \
  "CREATE VIEW runs_readable" "CREATE VIEW open_regressions" "CREATE VIEW daily" \
  "CREATE INDEX run_target_started"; do
  check_contains "$schema" "$t" ".schema"
done
version=$(sqlite3 "$scratch/data.db" 'PRAGMA user_version')
[ "$version" -ge 1 ] && ok || not_ok "user_version is $version"
mode=$(sqlite3 "$scratch/data.db" 'PRAGMA journal_mode')
[ "$mode" = wal ] && ok || not_ok "journal_mode is $mode"

# Opening again changes nothing and keeps the version.
run "$bwd" --config "$scratch/bw.yaml" --check
check_status 0 "second start"
[ "$(sqlite3 "$scratch/data.db" 'PRAGMA user_version')" = "$version" ] && ok || not_ok "version kept"

# A database from a newer benchwatch: refused, one clear line, file untouched.
sqlite3 "$scratch/data.db" "PRAGMA user_version = $((version + 1)); PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
before=$(sha256sum <"$scratch/data.db")
run "$bwd" --config "$scratch/bw.yaml" --check
[ "$status" -ne 0 ] && ok || not_ok "newer schema must be refused"
check_contains "$err" "newer than this benchwatch" "newer schema message"
[ "$(sha256sum <"$scratch/data.db")" = "$before" ] && ok || not_ok "newer database was modified"

# A config error at start-up is EX_CONFIG with the file:line:col message.
printf 'tests:\n  - {name: a, kind: pag, url: "http://h/"}\n' >"$scratch/bad.yaml"
run "$bwd" --config "$scratch/bad.yaml" --check
check_status 78 "bad config at start-up"
check_contains "$err" "<3>$scratch/bad.yaml:2:21: tests[0].kind: expected page, download or connect, got \"pag\"" "bad config message"

# A database in a directory that does not exist.
printf 'database: /nonexistent/dir/x.db\ntests: [{name: a, kind: page, url: "http://h/"}]\n' >"$scratch/nodir.yaml"
run "$bwd" --config "$scratch/nodir.yaml" --check
[ "$status" -ne 0 ] && [ "$status" -ne 78 ] && ok || not_ok "missing database directory: exit $status"
check_contains "$err" "/nonexistent/dir/x.db" "missing database directory message"

# A directory the daemon may not write, and a read-only file system: the true reason, not the
# "No such file or directory" of SQLite's read-only retry.
mkdir "$scratch/locked"
chmod 755 "$scratch"
chmod 555 "$scratch/locked"
printf 'database: locked/x.db\ntests: [{name: a, kind: page, url: "http://h/"}]\n' >"$scratch/locked.yaml"
as_user=()
if [ "$(id -u)" -eq 0 ]; then
  as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
run "${as_user[@]}" "$bwd" --config "$scratch/locked.yaml" --check
check_status 73 "database directory not writable"
check_contains "$err" "<3>$scratch/locked/x.db: cannot open the database: $scratch/locked: Permission denied" "not writable"
case "$err" in *"No such file"*) not_ok "not writable blamed on a missing file: $err" ;; *) ok ;; esac
chmod 755 "$scratch/locked"
if unshare -rm true 2>/dev/null; then
  run unshare -rm sh -c 'mount -t tmpfs -o ro tmpfs "$1" && exec "$2" --config "$3" --check' \
    sh "$scratch/locked" "$bwd" "$scratch/locked.yaml"
  check_status 73 "database on a read-only file system"
  check_contains "$err" "<3>$scratch/locked/x.db: cannot open the database: $scratch/locked: Read-only file system" "read-only file system"
  case "$err" in *"No such file"*) not_ok "read-only blamed on a missing file: $err" ;; *) ok ;; esac
else
  echo "skipped: the read-only file system check needs user namespaces (unshare -rm)"
fi

# Reading history never creates a database: a mistyped --db is an error, and no file appears.
for cmd in "regressions" "regressions --open" "history home" "baseline home" "backtest home"; do
  # shellcheck disable=SC2086
  run "$bw" $cmd --db "$scratch/typo.db"
  check_status 66 "$cmd on a missing database"
  check_contains "$err" "$scratch/typo.db: no such database" "$cmd: missing database named"
  [ ! -e "$scratch/typo.db" ] && ok || not_ok "$cmd created $scratch/typo.db"
done

for cmd in "export --all" "report" "export home"; do
  # shellcheck disable=SC2086
  run "$bw" $cmd --db "$scratch/typo.db"
  check_status 66 "$cmd on a missing database"
  [ ! -e "$scratch/typo.db" ] && ok || not_ok "$cmd created $scratch/typo.db"
done
# An empty file is not a history: refused, and left empty (never given a schema).
: >"$scratch/empty.db"
run "$bw" regressions --db "$scratch/empty.db"
check_status 1 "regressions on an empty file"
check_contains "$err" "not a benchwatch database yet" "empty file"
[ ! -s "$scratch/empty.db" ] && ok || not_ok "regressions wrote into an empty file"

# History is read read-only: a user who may read the database but not write it or its directory
# (the daemon stopped, no -wal or -shm left) reads it, and nothing in the directory changes.
sqlite3 "$scratch/data.db" "PRAGMA user_version = $version; PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
rm -f "$scratch/data.db-wal" "$scratch/data.db-shm"
chmod 644 "$scratch/data.db"
chmod 755 "$scratch"
listing=$(ls -l --time-style=full-iso "$scratch" | grep data.db)
as_reader=()
if [ "$(id -u)" -eq 0 ]; then
  as_reader=(setpriv --reuid=65534 --regid=65534 --clear-groups)
else
  chmod 555 "$scratch"
fi
for cmd in "regressions" "regressions --json" "export --all" "report --json"; do
  # shellcheck disable=SC2086
  run "${as_reader[@]}" "$bw" $cmd --db "$scratch/data.db"
  check_status 0 "$cmd by a reader who may not write"
done
chmod 755 "$scratch"
after=$(ls -l --time-style=full-iso "$scratch" | grep data.db)
[ "$after" = "$listing" ] && ok || not_ok "reading changed the directory: $listing // $after"

# A damaged database: garbage over its header, or over a page inside it. --check and the start
# fail with 74 and say what is wrong, instead of starting and failing to store every run.
printf 'database: fresh.db\ntests: [{name: a, kind: page, url: "http://h/"}]\n' >"$scratch/fresh.yaml"
run "$bwd" --config "$scratch/fresh.yaml" --check
check_status 0 "fresh database"
sqlite3 "$scratch/fresh.db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
cp "$scratch/fresh.db" "$scratch/good.db"
printf 'garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage' |
  dd of="$scratch/fresh.db" conv=notrunc status=none
for args in --check ""; do
  run timeout 20 "$bwd" --config "$scratch/fresh.yaml" $args
  check_status 74 "garbage over the header ($args)"
  check_contains "$err" "<3>$scratch/fresh.db: not an SQLite database" "garbage over the header"
done
cp "$scratch/good.db" "$scratch/fresh.db"
rm -f "$scratch/fresh.db-wal" "$scratch/fresh.db-shm"
head -c 3000 /dev/urandom | dd of="$scratch/fresh.db" bs=1 seek=8192 conv=notrunc status=none
for args in --check ""; do
  run timeout 20 "$bwd" --config "$scratch/fresh.yaml" $args
  check_status 74 "a damaged page ($args)"
  check_contains "$err" "<3>$scratch/fresh.db: the database is damaged: PRAGMA quick_check:" "damaged page"
  check_contains "$err" "<3>$scratch/fresh.db: runs cannot be stored in this database" "damaged page"
done

# A database file the daemon may read but not write: 73, with the reason.
cp "$scratch/good.db" "$scratch/fresh.db"
rm -f "$scratch/fresh.db-wal" "$scratch/fresh.db-shm" "$scratch/fresh.db.spool"
chmod 444 "$scratch/fresh.db"
if [ "$(id -u)" -eq 0 ]; then
  chown -R 65534 "$scratch"
fi
for args in --check ""; do
  run timeout 20 "${as_user[@]}" "$bwd" --config "$scratch/fresh.yaml" $args
  check_status 73 "read-only database file ($args)"
  check_contains "$err" "<3>$scratch/fresh.db: the database is read-only (Permission denied)" "read-only file"
done

finish
