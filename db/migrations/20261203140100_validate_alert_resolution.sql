-- The constraints of the alerts' resolution, added not valid by the file before:
-- validating scans the table under a lock that lets reads and writes go on.
alter table public.alerts validate constraint alerts_resolved_by_fkey;
alter table public.alerts validate constraint alerts_resolution_check;
