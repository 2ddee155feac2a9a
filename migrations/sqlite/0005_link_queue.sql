-- Linkage work, written in the transaction that makes it necessary (an
-- accepted extract, a retention purge), so every committed change is
-- linked even when the broker crashed right after the commit. The linker
-- deletes a job in the transaction that saves its outcome. `removed` packs
-- the ids of the records the change deleted (i64 big-endian each), which
-- linkage must forget.
CREATE TABLE link_queue (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    source     TEXT    NOT NULL,
    extract_id TEXT    NOT NULL,
    removed    BLOB    NOT NULL
);

-- Moves on every saved linkage change; a linker saves only over the
-- version its state was read at.
ALTER TABLE linkage_state ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
