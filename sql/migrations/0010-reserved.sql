-- A version that another change of the schema takes; nothing here. This file goes when that
-- change's own 0010 migration is merged beside it.
SELECT 1;
