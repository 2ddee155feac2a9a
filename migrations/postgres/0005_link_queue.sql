-- Linkage work, written in the transaction that makes it necessary (an
-- accepted extract, a retention purge), so every committed change is
-- linked whichever broker committed it and whenever a broker crashed. The
-- linker deletes a job in the transaction that saves its outcome.
-- `removed` packs the ids of the records the change deleted (i64
-- big-endian each), which linkage must forget.
CREATE TABLE link_queue (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source     TEXT   NOT NULL,
    extract_id TEXT   NOT NULL,
    removed    BYTEA  NOT NULL
);

-- Moves on every saved linkage change. A linker saves only over the
-- version its state was read at, so two brokers on one database can never
-- interleave their linkage writes: the second refuses and re-reads.
ALTER TABLE linkage_state ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
