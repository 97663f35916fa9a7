-- Version 3: the nightly reports, composed and kept until delivered, so none is lost to a mail
-- server that is down: one row per local calendar day.
CREATE TABLE report (
  day          INTEGER PRIMARY KEY,  -- local calendar day, YYYYMMDD
  created_us   INTEGER NOT NULL,
  subject      TEXT NOT NULL,
  message      TEXT NOT NULL,        -- the whole RFC 5322 message as sent
  attempts     INTEGER NOT NULL DEFAULT 0,
  sent_us      INTEGER,              -- NULL until the mail server accepted it
  last_error   TEXT
);
