-- Linkage: which person each record belongs to (ids stable across runs),
-- and the review queue of possible matches, never merged silently. No
-- foreign keys: the linker applies extracts in commit order and removes
-- the rows of records an extract deleted itself.
CREATE TABLE record_person (
    record_id  BIGINT PRIMARY KEY,
    person_id  BIGINT NOT NULL,
    outcome    TEXT   NOT NULL CHECK (outcome IN ('linked', 'possible', 'unlinked'))
);
CREATE INDEX record_person_person ON record_person (person_id);

CREATE TABLE link_reviews (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_id        BIGINT NOT NULL,
    candidate_person BIGINT NOT NULL,
    score            DOUBLE PRECISION NOT NULL,
    status           TEXT   NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'rejected')),
    created_at       TIMESTAMPTZ NOT NULL,
    resolved_by      TEXT,
    -- For an accepted review: the oldest record of the person then (a manual
    -- link that later splits respect).
    anchor           BIGINT,
    resolved_at      TIMESTAMPTZ,
    UNIQUE (record_id, candidate_person)
);
CREATE INDEX link_reviews_status ON link_reviews (status);

-- The next person id to hand out; one row.
CREATE TABLE linkage_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    next_person BIGINT NOT NULL
);
INSERT INTO linkage_state (id, next_person) VALUES (1, 1);
