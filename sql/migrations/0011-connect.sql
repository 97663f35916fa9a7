-- The connect kind of test: many TCP connects (and TLS handshakes for https) without a request.
-- target.kind admits 'connect', and a run keeps the median TLS handshake beside connect_p50_us.
--
-- SQLite cannot alter a CHECK constraint, so target is rebuilt as lang_altertable.html ("Making
-- Other Kinds Of Table Schema Changes") describes: foreign keys are off while migrations run
-- (bw_store.c), the rows are copied into a table of the new definition, and the old one goes.
-- The old table is renamed away first with legacy_alter_table on, so that the rename leaves the
-- views, the trigger and the foreign keys that name target as they are (pointing at the new
-- table once it exists) and the new table is created under its own name exactly as in
-- schema.sql; the ids are kept, so run, judge, regression and env rows still belong.
PRAGMA legacy_alter_table = ON;
ALTER TABLE target RENAME TO target_before_connect;
CREATE TABLE target (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  backend    TEXT NOT NULL DEFAULT '',
  kind       TEXT NOT NULL CHECK (kind IN ('page', 'download', 'connect')),
  url        TEXT NOT NULL,
  created_us INTEGER NOT NULL,
  UNIQUE (name, backend)
);
INSERT INTO target (id, name, backend, kind, url, created_us)
SELECT id, name, backend, kind, url, created_us FROM target_before_connect;
DROP TABLE target_before_connect;
PRAGMA legacy_alter_table = OFF;

-- A column of run, appended as in schema.sql: one of bw_run_figures.
ALTER TABLE run ADD COLUMN tls_p50_us INTEGER;
