-- Controller state: tasks handed between roles, approvals, sessions (gateway/db/controller.py).
-- Payloads are JSON documents (jsonb: they are queried, not hashed).
CREATE TABLE controller_tasks (
    id          text             PRIMARY KEY,
    tenant      text             NOT NULL,
    created_by  text             NOT NULL,
    to_role     text             NOT NULL,
    title       text             NOT NULL,
    payload     jsonb            NOT NULL DEFAULT '{}',
    status      text             NOT NULL,
    result      jsonb,
    created_at  double precision NOT NULL,
    updated_at  double precision NOT NULL
);
-- The inbox of a role: open tasks, oldest first.
CREATE INDEX controller_tasks_inbox ON controller_tasks (tenant, to_role, status, created_at);

CREATE TABLE controller_approvals (
    id            text             PRIMARY KEY,
    tenant        text             NOT NULL,
    requested_by  text             NOT NULL,
    approver_role text             NOT NULL,
    subject       text             NOT NULL,
    payload       jsonb            NOT NULL DEFAULT '{}',
    status        text             NOT NULL,
    decided_by    text,
    note          text,
    created_at    double precision NOT NULL,
    decided_at    double precision
);
CREATE INDEX controller_approvals_pending ON controller_approvals (tenant, approver_role, status, created_at);

CREATE TABLE controller_sessions (
    id          text             PRIMARY KEY,
    tenant      text             NOT NULL,
    sub         text             NOT NULL,
    data        jsonb            NOT NULL DEFAULT '{}',
    created_at  double precision NOT NULL,
    expires_at  double precision NOT NULL
);
CREATE INDEX controller_sessions_expiry ON controller_sessions (expires_at);
