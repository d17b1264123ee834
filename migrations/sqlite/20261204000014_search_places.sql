-- Search reaches meetings and a school's agreements with an LSC too (issue 18): an entry
-- names the meeting, or the LSC of the agreements, it belongs to, because who may find it
-- follows from that (a meeting: every partner at the school's table; agreements: that
-- school and that LSC only).
ALTER TABLE search_entries ADD COLUMN meeting_id TEXT REFERENCES meetings (id);
ALTER TABLE search_entries ADD COLUMN lsc_id INTEGER REFERENCES institutions (id);
CREATE INDEX search_entries_meeting ON search_entries (meeting_id);

-- How much an entry says about the words it holds, before any query (issue 18's ranking):
-- the part it is (a title 3, summary, understanding and advice 2, a comment 1, the rest
-- 1.5) over its length (a short text that matches is more about it than a long one that
-- mentions it once). Kept by the server as it indexes (db::search::entry_weight); here for
-- the entries indexed before.
ALTER TABLE search_entries ADD COLUMN weight REAL NOT NULL DEFAULT 1.0;
UPDATE search_entries SET weight =
    (CASE part WHEN 'title' THEN 3.0 WHEN 'summary' THEN 2.0 WHEN 'understanding' THEN 2.0
               WHEN 'advice' THEN 2.0 WHEN 'comment' THEN 1.0 ELSE 1.5 END)
    / (1.0 + LENGTH(text) / 400.0);
-- What a search orders and filters by, so that it picks the entries it returns without
-- reading any text (texts are long; only those returned are read).
CREATE INDEX search_entries_rank
    ON search_entries (id, school_id, registration_id, meeting_id, lsc_id, weight, updated_at);
