-- Version 6: the client's network environment per target (interface MTU towards the target,
-- tcp_timestamps, tcp_rmem, tcp_wmem, congestion control), stored only when it changed, so that
-- a report can say what changed between a good period and a bad one.
-- The client's network environment towards a target (lib/bw_env.h): one row each time it
-- changed, written with the first run that saw it; a run's environment is the target's latest
-- row that began at or before it. NULL: not known (the sysctl unreadable, no route).
CREATE TABLE env (
  id             INTEGER PRIMARY KEY,
  target_id      INTEGER NOT NULL REFERENCES target (id) ON DELETE CASCADE,
  since_us       INTEGER NOT NULL,     -- the start of the first run with this environment
  run_id         INTEGER REFERENCES run (id) ON DELETE SET NULL,
  ifname         TEXT,                 -- the interface of the route to the target
  mtu            INTEGER,              -- its MTU, bytes
  tcp_timestamps INTEGER,              -- net.ipv4.tcp_timestamps
  tcp_rmem       TEXT,                 -- net.ipv4.tcp_rmem, "min,default,max"
  tcp_wmem       TEXT,                 -- net.ipv4.tcp_wmem
  tcp_cc         TEXT                  -- net.ipv4.tcp_congestion_control
);
CREATE INDEX env_target ON env (target_id, since_us);
