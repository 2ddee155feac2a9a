-- A snapshot replaces its source's records of one data set (DESIGN §3):
-- every record and every accepted extract names the data set it belongs
-- to. Rows stored before this migration get the data set the broker now
-- derives for a header that names none (concord_core::DataSet): the
-- source's only one; for community safety, marac for MARAC cases and
-- youth_services for every other kind.
ALTER TABLE records ADD COLUMN data_set TEXT NOT NULL DEFAULT '';
UPDATE records SET data_set = CASE source
    WHEN 'police' THEN 'police_violent_crime'
    WHEN 'health' THEN 'ed_assaults'
    WHEN 'probation' THEN 'probation'
    WHEN 'youth_justice' THEN 'youth_offending'
    WHEN 'childrens_services' THEN 'childrens_da_exploitation'
    WHEN 'adult_social_care' THEN 'adult_safeguarding'
    WHEN 'housing' THEN 'housing'
    WHEN 'community_safety' THEN
        CASE WHEN kind = 'marac_case' THEN 'marac' ELSE 'youth_services' END
    END;

ALTER TABLE extracts ADD COLUMN data_set TEXT NOT NULL DEFAULT '';
ALTER TABLE extracts ADD COLUMN records_held INTEGER NOT NULL DEFAULT 0;
UPDATE extracts SET data_set = CASE source
    WHEN 'police' THEN 'police_violent_crime'
    WHEN 'health' THEN 'ed_assaults'
    WHEN 'probation' THEN 'probation'
    WHEN 'youth_justice' THEN 'youth_offending'
    WHEN 'childrens_services' THEN 'childrens_da_exploitation'
    WHEN 'adult_social_care' THEN 'adult_safeguarding'
    WHEN 'housing' THEN 'housing'
    WHEN 'community_safety' THEN
        CASE WHEN EXISTS (
            SELECT 1 FROM records r
            WHERE r.source = extracts.source AND r.extract_id = extracts.extract_id
              AND r.kind = 'marac_case'
        ) THEN 'marac' ELSE 'youth_services' END
    END;

-- The snapshot replacement's scope.
CREATE INDEX records_source_data_set_date ON records (source, data_set, event_date);
