-- The audit log (DESIGN §6). Each row of audit_events is one leaf of the
-- RFC 6962 Merkle log: `event` is the event's canonical encoding (JSON,
-- concord_audit::AuditEvent::encode) and `leaf_hash` is
-- SHA-256(0x00 ‖ event). `seq` is the leaf's position, from 0, with no
-- gaps. Events hold pseudonyms, person ids and field names, never
-- identifiers. One writer per broker process appends (see ARCHITECTURE.md,
-- Audit); nothing updates or deletes, and the triggers below refuse it
-- (they are a guard against mistakes, not against a database owner:
-- `concord audit verify` is what catches tampering).
CREATE TABLE audit_events (
    seq        BIGINT      PRIMARY KEY CHECK (seq >= 0),
    leaf_hash  BYTEA       NOT NULL CHECK (length(leaf_hash) = 32),
    event      BYTEA       NOT NULL,
    time       TIMESTAMPTZ NOT NULL
);

-- Whom each event is about (`person:<id>` or `ps:<hex>`), for
-- Audit.AccessHistory. The event itself is the truth; this is an index.
CREATE TABLE audit_subjects (
    subject  TEXT   NOT NULL,
    seq      BIGINT NOT NULL,
    PRIMARY KEY (subject, seq)
);

-- Signed checkpoints: `note` is the C2SP signed note over (tree_size, root).
CREATE TABLE audit_checkpoints (
    tree_size  BIGINT      PRIMARY KEY CHECK (tree_size >= 0),
    root       BYTEA       NOT NULL CHECK (length(root) = 32),
    note       TEXT        NOT NULL,
    time       TIMESTAMPTZ NOT NULL
);

CREATE FUNCTION concord_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION concord_audit_append_only();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION concord_audit_append_only();
