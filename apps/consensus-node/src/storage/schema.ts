// The one SQLite file of a node: Raft log + hard state + snapshot metadata and
// the flag state machine, so applying an entry and moving applied_index is one
// transaction, and one Ready is one transaction with one fsync (group commit).
export const FORMAT_VERSION = 1;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
-- crc = crc32 of (term, index, type, data); checked on every read.
CREATE TABLE IF NOT EXISTS log (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, type INTEGER NOT NULL, data BLOB NOT NULL, crc INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS hard_state (id INTEGER PRIMARY KEY CHECK (id = 1), term INTEGER NOT NULL, vote INTEGER NOT NULL, commit_idx INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS flags (key TEXT PRIMARY KEY, json TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS segments (name TEXT PRIMARY KEY, json TEXT NOT NULL) WITHOUT ROWID;
-- which flags reference which segment (rules[].segments / excludeSegments), for SEGMENT_IN_USE.
CREATE TABLE IF NOT EXISTS flag_segments (segment TEXT NOT NULL, flag TEXT NOT NULL, PRIMARY KEY (segment, flag)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS flag_segments_flag ON flag_segments (flag);
-- the audit log; also the Watch resume window and the outbox.
CREATE TABLE IF NOT EXISTS changes (revision INTEGER NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, op TEXT NOT NULL,
  before TEXT, after TEXT, actor TEXT NOT NULL, time INTEGER NOT NULL, PRIMARY KEY (revision, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS changes_key ON changes (kind, key, revision);
-- de-duplication of retried writes (Raft thesis 6.3): the first result of (client_id, request_id).
CREATE TABLE IF NOT EXISTS client_requests (client_id TEXT NOT NULL, request_id TEXT NOT NULL, revision INTEGER NOT NULL, result TEXT NOT NULL,
  PRIMARY KEY (client_id, request_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS client_requests_rev ON client_requests (revision);
CREATE TABLE IF NOT EXISTS members (id INTEGER PRIMARY KEY, address TEXT NOT NULL);
`;
