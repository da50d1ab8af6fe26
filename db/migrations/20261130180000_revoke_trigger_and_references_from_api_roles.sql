-- The API roles never create triggers or foreign keys on our tables; with TRIGGER a signed-in user could attach a
-- failing trigger to usage_events and break record_usage for every workspace.
revoke trigger, references on all tables in schema public from anon, authenticated, service_role;
revoke trigger, references on all tables in schema private from anon, authenticated, service_role;
alter default privileges in schema public revoke trigger, references on tables from anon, authenticated, service_role;
alter default privileges in schema private revoke trigger, references on tables from anon, authenticated, service_role;
