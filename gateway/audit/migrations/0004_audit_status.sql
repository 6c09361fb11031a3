-- The HTTP status returned to the caller, as an indexed copy for `skein audit query --status`
-- (verify checks it against the record, like the other copies).
ALTER TABLE audit_events ADD COLUMN status integer;
UPDATE audit_events SET status = (event::json ->> 'status')::integer;
CREATE INDEX audit_events_status ON audit_events (status, ts);
