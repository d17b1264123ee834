-- Meetings (schoolbeeldoverleg) of a school with its CLB and learning-support centres
-- (issue 16). Their content is the CRDT document of the same id (the parts are in
-- crdt/src/meeting.rs); these rows are what lists and the agenda need.
CREATE TABLE meetings (
    id          TEXT    NOT NULL PRIMARY KEY,
    school_id   BIGINT NOT NULL REFERENCES institutions (id),
    school_year TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    -- The day it is held (YYYY-MM-DD).
    held_on     TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('planned', 'closed')),
    -- A second moment names the meeting whose agreements it evaluates.
    follows_id  TEXT    REFERENCES meetings (id),
    created_by  TEXT    NOT NULL REFERENCES users (id),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX meetings_school ON meetings (school_id, held_on);

-- Who takes part: users of the three partners...
CREATE TABLE meeting_participants (
    meeting_id TEXT NOT NULL REFERENCES meetings (id),
    user_id    TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (meeting_id, user_id)
);

-- ...and others by their role only ("leerkracht 3de graad"), never by name.
CREATE TABLE meeting_guests (
    meeting_id TEXT    NOT NULL REFERENCES meetings (id),
    position   BIGINT NOT NULL,
    role       TEXT    NOT NULL,
    PRIMARY KEY (meeting_id, position)
);
