-- Copies for `GET /v1/decisions/{id}` and the tool filter of decision searches (verify
-- checks them against the record, like the other copies). Plain columns with plain indexes:
-- an index on an expression that casts `event` to JSON would make every insert (and this
-- migration) fail on one corrupted record, and then `skein audit verify` could not report it.
ALTER TABLE audit_events ADD COLUMN decision_id text;
ALTER TABLE audit_events ADD COLUMN tool text;

-- The fill parses each record in a function that turns a malformed one into NULL instead
-- of failing the migration (verify reports that record afterwards).
CREATE FUNCTION pg_temp.skein_json(raw text) RETURNS json LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN raw::json;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;
UPDATE audit_events SET
    decision_id = CASE WHEN json_typeof(j -> 'decision_id') = 'string' THEN NULLIF(j ->> 'decision_id', '') END,
    tool = CASE WHEN json_typeof(j -> 'resource') = 'object' AND json_typeof(j -> 'resource' -> 'tool') = 'string'
                THEN NULLIF(j -> 'resource' ->> 'tool', '') END
FROM (SELECT pos AS p, pg_temp.skein_json(event) AS j FROM audit_events) parsed
WHERE parsed.p = audit_events.pos AND parsed.j IS NOT NULL AND json_typeof(parsed.j) = 'object';

CREATE INDEX audit_events_decision_id ON audit_events (decision_id);
CREATE INDEX audit_events_tool ON audit_events (tool, ts);
