-- The audit log of a SQLite store, in the file of its own beside the store
-- (`<store file>-audit`, attached to every connection as the schema
-- `audit`; see concord_store::sqlite_audit_file). The same tables and
-- guards as sqlite/0003_audit.sql, which created them in the main file
-- before the log moved: the broker creates these at start if they are
-- missing and moves an older store's log here (concord-store, sqlite.rs,
-- adopt_audit). Each row of audit_events is one leaf of the RFC 6962
-- Merkle log (DESIGN §6): `event` is the event's canonical encoding and
-- `leaf_hash` is SHA-256(0x00 ‖ event); `seq` is the leaf's position,
-- from 0, with no gaps. Events hold pseudonyms, person ids and field
-- names, never identifiers. Nothing updates or deletes, and the triggers
-- refuse it (a guard against mistakes, not against a database owner:
-- `concord audit verify` is what catches tampering).
CREATE TABLE IF NOT EXISTS audit.audit_events (
    seq        INTEGER PRIMARY KEY CHECK (seq >= 0),
    leaf_hash  BLOB    NOT NULL CHECK (length(leaf_hash) = 32),
    event      BLOB    NOT NULL,
    time       TEXT    NOT NULL
);

-- Whom each event is about (`person:<id>` or `ps:<hex>`), for
-- Audit.AccessHistory. The event itself is the truth; this is an index.
CREATE TABLE IF NOT EXISTS audit.audit_subjects (
    subject  TEXT    NOT NULL,
    seq      INTEGER NOT NULL,
    PRIMARY KEY (subject, seq)
);

-- Signed checkpoints: `note` is the C2SP signed note over (tree_size, root).
CREATE TABLE IF NOT EXISTS audit.audit_checkpoints (
    tree_size  INTEGER PRIMARY KEY CHECK (tree_size >= 0),
    root       BLOB    NOT NULL CHECK (length(root) = 32),
    note       TEXT    NOT NULL,
    time       TEXT    NOT NULL
);

CREATE TRIGGER IF NOT EXISTS audit.audit_events_append_only_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER IF NOT EXISTS audit.audit_events_append_only_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER IF NOT EXISTS audit.audit_checkpoints_append_only_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER IF NOT EXISTS audit.audit_checkpoints_append_only_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- One statement appends a batch and its signed tree head: a row inserted
-- into this view is an event (`note` NULL, its subjects as a JSON array of
-- strings), for which the trigger writes audit_events and audit_subjects,
-- or the batch's head (`note` the signed note, `seq` its tree size,
-- `leaf_hash` its root), for which it writes audit_checkpoints. So a
-- batch is one autocommit INSERT (atomic: a failing row undoes the
-- statement, so no event is stored without its head), one round trip to
-- sqlx's SQLite thread instead of BEGIN, three INSERTs and COMMIT. The
-- view reads nothing back. It replaces `audit_append`, which wrote events
-- with no head.
DROP VIEW IF EXISTS audit.audit_append;
CREATE VIEW IF NOT EXISTS audit.audit_commit AS
    SELECT seq, leaf_hash, event, time, NULL AS subjects, NULL AS note FROM audit_events;
CREATE TRIGGER IF NOT EXISTS audit.audit_commit_insert INSTEAD OF INSERT ON audit_commit
BEGIN
    INSERT INTO audit_events (seq, leaf_hash, event, time)
        SELECT NEW.seq, NEW.leaf_hash, NEW.event, NEW.time WHERE NEW.note IS NULL;
    INSERT INTO audit_subjects (subject, seq)
        SELECT value, NEW.seq FROM json_each(NEW.subjects) WHERE NEW.note IS NULL;
    INSERT INTO audit_checkpoints (tree_size, root, note, time)
        SELECT NEW.seq, NEW.leaf_hash, NEW.note, NEW.time WHERE NEW.note IS NOT NULL;
END;
