-- Notifications beyond mentions: a reply in a thread one wrote in (`reply`), and a new
-- thread on a registration one started (`thread`).

ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('mention', 'reply', 'thread'));
