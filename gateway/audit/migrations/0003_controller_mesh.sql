-- The controller API and the agent mesh (gateway/db/controller.py): task types, approvals tied
-- to a task and a person with an expiry, the session state machine, the org chart, and
-- notifications between roles.
ALTER TABLE controller_tasks ADD COLUMN task_type text NOT NULL DEFAULT 'task';
-- A sender's outbox, oldest first.
CREATE INDEX controller_tasks_sender ON controller_tasks (tenant, created_by, created_at);

ALTER TABLE controller_approvals
    ADD COLUMN task_id       text,
    ADD COLUMN approver_user text,
    ADD COLUMN expires_at    double precision;
CREATE INDEX controller_approvals_task ON controller_approvals (task_id);
-- The queue of one approver (a person named by the org chart).
CREATE INDEX controller_approvals_user ON controller_approvals (tenant, approver_user, status, created_at);

ALTER TABLE controller_sessions
    ADD COLUMN state      text             NOT NULL DEFAULT 'pending',
    ADD COLUMN updated_at double precision NOT NULL DEFAULT 0;

CREATE TABLE controller_people (
    tenant      text NOT NULL,
    user_id     text NOT NULL,
    reports_to  text,
    name        text NOT NULL,
    role        text NOT NULL,
    email       text NOT NULL,
    department  text NOT NULL,
    PRIMARY KEY (tenant, user_id)
);
CREATE INDEX controller_people_email ON controller_people (tenant, lower(email));

CREATE TABLE controller_notifications (
    id           text             PRIMARY KEY,
    tenant       text             NOT NULL,
    sender       text             NOT NULL,
    target_role  text             NOT NULL,
    message      text             NOT NULL,
    priority     text             NOT NULL,
    created_at   double precision NOT NULL
);
CREATE INDEX controller_notifications_inbox ON controller_notifications (tenant, target_role, created_at);
