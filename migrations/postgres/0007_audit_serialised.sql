-- Audit batches from any number of brokers on one database, serialised
-- here (issue 23): every batch is appended by this one function, which
-- first takes the transaction-scoped advisory lock 7165066905285649524
-- (the bytes of "concaudt"), then checks, under it, that the log ends
-- where the caller numbered its batch from (position `seqs[1]`, the last
-- event hashing to `prev`), and only then writes the events, their
-- subjects and the batch's signed tree head, all in the caller's
-- transaction. A caller whose view was behind gets `false`, with nothing
-- written: it then takes the same lock in a transaction of its own
-- (`pg_advisory_xact_lock`, reentrant), reads the events and the signed
-- head that were added, signs its batch after them and calls this again,
-- which cannot then be refused. The lock is held until the caller's
-- transaction ends; the writers of other tables never take it.
CREATE FUNCTION concord_audit_append(
    seqs         BIGINT[],
    hashes       BYTEA[],
    events       BYTEA[],
    times        TIMESTAMPTZ[],
    subjects     TEXT[],
    subject_seqs BIGINT[],
    prev         BYTEA,
    head_size    BIGINT,
    head_root    BYTEA,
    head_note    TEXT,
    head_time    TIMESTAMPTZ
) RETURNS BOOLEAN
LANGUAGE plpgsql AS $$
DECLARE
    last_seq  BIGINT;
    last_leaf BYTEA;
BEGIN
    PERFORM pg_advisory_xact_lock(7165066905285649524);
    SELECT seq, leaf_hash INTO last_seq, last_leaf
        FROM audit_events ORDER BY seq DESC LIMIT 1;
    IF coalesce(last_seq + 1, 0) <> seqs[1]
       OR (last_seq IS NOT NULL AND last_leaf IS DISTINCT FROM prev) THEN
        RETURN false;
    END IF;
    INSERT INTO audit_events (seq, leaf_hash, event, time)
        SELECT * FROM unnest(seqs, hashes, events, times);
    INSERT INTO audit_checkpoints (tree_size, root, note, time)
        VALUES (head_size, head_root, head_note, head_time);
    INSERT INTO audit_subjects (subject, seq)
        SELECT * FROM unnest(subjects, subject_seqs);
    RETURN true;
END;
$$;
