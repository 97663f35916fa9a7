-- The client that ran a page run: "lean" (benchwatch's own HTTP/1.1 engine) or "curl"
-- (libcurl), so that a change of engine can be told from a change of the server. NULL for
-- downloads and for runs stored before this column.
ALTER TABLE run ADD COLUMN engine TEXT;
