-- Audit log: one row per event, one hash chain per writer (instance_id).
-- ``pos`` is the storage order ``skein audit verify`` walks; ``event`` is the exact JSON the
-- hash covers (text, not jsonb: jsonb would reorder keys and reformat numbers).
CREATE TABLE audit_events (
    pos         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_id text             NOT NULL,
    seq         bigint           NOT NULL,
    ts          double precision NOT NULL,
    sub         text,
    decision    text             NOT NULL,
    reason      text,
    model       text,
    roles       text[]           NOT NULL DEFAULT '{}',
    event       text             NOT NULL,
    -- The replay of a spooled batch that had in fact committed inserts nothing twice.
    UNIQUE (instance_id, seq)
);
-- Operator queries filter by one of these and a time range, newest first.
CREATE INDEX audit_events_ts ON audit_events (ts);
CREATE INDEX audit_events_sub ON audit_events (sub, ts);
CREATE INDEX audit_events_decision ON audit_events (decision, ts);
CREATE INDEX audit_events_reason ON audit_events (reason, ts);
CREATE INDEX audit_events_model ON audit_events (model, ts);
CREATE INDEX audit_events_roles ON audit_events USING gin (roles);

-- The last (seq, hash) of each chain, moved in the same transaction as its rows: lets a
-- restarted writer continue and lets verify notice records cut from the end.
CREATE TABLE audit_heads (
    instance_id text   PRIMARY KEY,
    seq         bigint NOT NULL,
    hash        text   NOT NULL
);

-- Where each chain starts after retention pruned a prefix: the last pruned (seq, hash).
CREATE TABLE audit_anchors (
    instance_id text   PRIMARY KEY,
    seq         bigint NOT NULL,
    hash        text   NOT NULL
);
