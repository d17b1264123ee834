-- Keys every node of one database shares: the login throttle counts attempts under a keyed
-- hash of the e-mail address and client address, and all nodes must hash alike.
CREATE TABLE server_keys (
    name  TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
