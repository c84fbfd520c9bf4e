-- The first schema of an airlock workspace store (SQLite).
-- Every state row records the audit entry that made it (entry = the
-- entry's index; -1 for rows migrated from a first-release workspace).

-- +goose Up
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE audit_entries (
    idx     INTEGER PRIMARY KEY,
    kind    TEXT    NOT NULL,
    subject TEXT    NOT NULL,
    time    INTEGER NOT NULL,
    record  BLOB    NOT NULL
);
CREATE INDEX audit_entries_kind ON audit_entries (kind);
CREATE TABLE audit_hashes (idx INTEGER PRIMARY KEY, hash BLOB NOT NULL);
CREATE TABLE audit_checkpoints (seq INTEGER PRIMARY KEY, size INTEGER NOT NULL, note BLOB NOT NULL);
CREATE TABLE policies (
    version  INTEGER PRIMARY KEY,
    id       BLOB    NOT NULL UNIQUE,
    envelope BLOB    NOT NULL,
    entry    INTEGER NOT NULL
);
CREATE TABLE proposals (
    id       BLOB    PRIMARY KEY,
    hexid    TEXT    NOT NULL,
    envelope BLOB    NOT NULL,
    state    TEXT    NOT NULL,
    entry    INTEGER NOT NULL
);
CREATE TABLE decisions (
    proposal    BLOB    NOT NULL,
    participant TEXT    NOT NULL,
    envelope    BLOB    NOT NULL,
    entry       INTEGER NOT NULL,
    PRIMARY KEY (proposal, participant)
);
CREATE TABLE claims (resource TEXT PRIMARY KEY, proposal BLOB NOT NULL, entry INTEGER NOT NULL);
CREATE TABLE finals (proposal BLOB PRIMARY KEY, proof BLOB NOT NULL, entry INTEGER NOT NULL);
CREATE TABLE artifacts (
    id    BLOB    PRIMARY KEY,
    hexid TEXT    NOT NULL,
    kind  TEXT    NOT NULL,
    name  TEXT    NOT NULL,
    data  BLOB    NOT NULL,
    entry INTEGER NOT NULL
);
CREATE TABLE sequences (channel TEXT PRIMARY KEY, n INTEGER NOT NULL, entry INTEGER NOT NULL);
CREATE TABLE witnesses (key TEXT PRIMARY KEY, value BLOB NOT NULL, entry INTEGER NOT NULL);
CREATE TABLE health (device TEXT PRIMARY KEY, record BLOB NOT NULL, entry INTEGER NOT NULL);

-- +goose Down
DROP TABLE health;
DROP TABLE witnesses;
DROP TABLE sequences;
DROP TABLE artifacts;
DROP TABLE finals;
DROP TABLE claims;
DROP TABLE decisions;
DROP TABLE proposals;
DROP TABLE policies;
DROP TABLE audit_checkpoints;
DROP TABLE audit_hashes;
DROP TABLE audit_entries;
DROP TABLE meta;
