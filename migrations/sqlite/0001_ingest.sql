-- Accepted extracts: one row per (source, extract id), written in the same
-- transaction as the extract's records. A rejected extract leaves no row.
CREATE TABLE extracts (
    source            TEXT    NOT NULL,
    extract_id        TEXT    NOT NULL,
    org               TEXT    NOT NULL,
    mode              TEXT    NOT NULL CHECK (mode IN ('snapshot', 'delta')),
    period_start      TEXT    NOT NULL,
    period_end        TEXT    NOT NULL,
    records_received  INTEGER NOT NULL,
    records_stored    INTEGER NOT NULL,
    records_deleted   INTEGER NOT NULL,
    records_replaced  INTEGER NOT NULL,
    checksum          BLOB    NOT NULL,
    stored_digest     BLOB    NOT NULL,
    policy_digest     TEXT    NOT NULL,
    policy_revision   TEXT    NOT NULL,
    broker_key_id     TEXT    NOT NULL,
    linkage_key_id    TEXT    NOT NULL,
    committed_at      TEXT    NOT NULL,
    PRIMARY KEY (source, extract_id)
);

-- Records hold pseudonyms only: source_ref and every token are re-keyed
-- with the broker key before they are written. tokens packs (key code u8,
-- 32-byte pseudonym) pairs.
CREATE TABLE records (
    id                  INTEGER PRIMARY KEY,
    source              TEXT    NOT NULL,
    source_ref          BLOB    NOT NULL,
    extract_id          TEXT    NOT NULL,
    kind                TEXT    NOT NULL,
    role                TEXT,
    event_date          TEXT    NOT NULL,
    date_precision      TEXT,
    event_hour          INTEGER,
    ward_code           TEXT,
    lsoa_code           TEXT,
    category            TEXT,
    weapon              TEXT,
    location_type       TEXT,
    age_band            TEXT,
    sex                 TEXT,
    rosh                TEXT,
    dash_score          INTEGER,
    marac               INTEGER NOT NULL,
    flag_domestic_abuse INTEGER NOT NULL,
    flag_under_25       INTEGER NOT NULL,
    flag_exploitation   INTEGER NOT NULL,
    site_code           TEXT,
    broker_key_id       TEXT    NOT NULL,
    linkage_key_id      TEXT    NOT NULL,
    tokens              BLOB    NOT NULL,
    UNIQUE (source, source_ref)
);

CREATE INDEX records_source_date ON records (source, event_date);
