-- Insights: a counter that changes whenever what the aggregates count may
-- have changed, so a broker can keep its counting facts in memory and
-- reload them only when needed. Bumped by every accepted extract (one
-- `extracts` row per commit), every linkage run (each updates
-- `linkage_state`) and any deletion of records outside those paths
-- (retention). Never decreases.
CREATE TABLE insights_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    generation  BIGINT  NOT NULL
);
INSERT INTO insights_state (id, generation) VALUES (1, 0);

CREATE FUNCTION insights_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE insights_state SET generation = generation + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER insights_extract AFTER INSERT ON extracts
    FOR EACH STATEMENT EXECUTE FUNCTION insights_bump();
CREATE TRIGGER insights_linkage AFTER UPDATE ON linkage_state
    FOR EACH STATEMENT EXECUTE FUNCTION insights_bump();
CREATE TRIGGER insights_records_deleted AFTER DELETE ON records
    FOR EACH STATEMENT EXECUTE FUNCTION insights_bump();
