// A node keeps two SQLite files in its data dir:
//  - raft-log.db: the Raft log, hard state and compaction point. Its commits
//    fsync (synchronous=FULL) whenever Raft needs it: one fsync per Ready.
//  - flagraft.db: the state machine (flags, segments, changes, de-dup, members)
//    and the applied index, moved in the same transaction as each apply. Its
//    commits do not fsync (synchronous=NORMAL): after an OS crash the state may
//    be a few entries behind, and those are re-applied from the durable log. It
//    is synced before the log is compacted behind it.
// Keeping them apart means the per-Ready fsync covers only the appended log
// pages, not the random B-tree pages the apply dirtied.
// Format 3 added a CRC32 to every row (checksum.ts); format 4 added
// environments (flag-model environments.ts): the tables below for the
// environments, the configurations of flags outside the default environment,
// change requests and schedules, and an `env` column on the history (NULL =
// the default environment, so every row written before keeps its meaning).
// Older files are converted when first opened (sqlite.ts checkIdentity).
import { crcColumn, type CheckedTable } from './checksum.js';

export const FORMAT_VERSION = 4;
/** The earlier formats a node still opens (and converts). */
export const OLDER_FORMAT_VERSIONS: readonly number[] = [2, 3];

const t = (table: string, keyColumns: number, ...columns: string[]): CheckedTable => ({ table, columns, keyColumns });
/** The log file's checksummed tables (the log's own entries carry entryCrc, log-store.ts). */
export const LOG_CHECKED = { meta: t('meta', 1, 'k', 'v'), hardState: t('hard_state', 1, 'id', 'term', 'vote', 'commit_idx') };
/** The state file's checksummed tables: every table. */
export const STATE_CHECKED = {
  meta: t('meta', 1, 'k', 'v'),
  members: t('members', 1, 'id', 'address'),
  clockSamples: t('clock_samples', 1, 'revision', 'time'),
  flags: t('flags', 1, 'key', 'json'),
  segments: t('segments', 1, 'name', 'json'),
  flagSegments: t('flag_segments', 2, 'segment', 'flag'),
  requests: t('client_requests', 2, 'client_id', 'request_id', 'revision', 'result'),
  restoreFlags: t('restore_flags', 1, 'key', 'json'),
  restoreSegments: t('restore_segments', 1, 'name', 'json'),
  restoreFlagSegments: t('restore_flag_segments', 2, 'segment', 'flag'),
  restoreEnvironments: t('restore_environments', 1, 'name', 'json'),
  restoreEnvFlags: t('restore_env_flags', 2, 'env', 'key', 'json'),
  restoreChangeRequests: t('restore_change_requests', 1, 'id', 'json'),
  restoreSchedules: t('restore_schedules', 1, 'id', 'json'),
  restoreChanges: t('restore_changes', 2, 'revision', 'seq', 'kind', 'key', 'op', 'before', 'after', 'actor', 'time', 'env'),
  environments: t('environments', 1, 'name', 'json'),
  envFlags: t('env_flags', 2, 'env', 'key', 'json'),
  envFlagSegments: t('env_flag_segments', 3, 'env', 'segment', 'flag'),
  changeRequests: t('change_requests', 1, 'id', 'json'),
  schedules: t('schedules', 1, 'id', 'json'),
  changes: t('changes', 2, 'revision', 'seq', 'kind', 'key', 'op', 'before', 'after', 'actor', 'time', 'env'),
};
/**
 * The rows of the changes table that consumers from before environments
 * understand: the default environment's flags and the segments (Watch without
 * all_environments, the SNS outbox, backups).
 */
export const LEGACY_CHANGES_SQL = "env IS NULL AND kind IN ('flag', 'segment')";

/** Format 3 -> 4: the tables rebuilt (a new column changes what their checksum covers). */
export const REBUILT_IN_FORMAT_4 = [STATE_CHECKED.changes, STATE_CHECKED.restoreChanges];
const L = LOG_CHECKED;
const S = STATE_CHECKED;

export const LOG_SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL, ${crcColumn(L.meta)}) WITHOUT ROWID;
-- crc = crc32 of (term, index, type, data); checked on every read.
CREATE TABLE IF NOT EXISTS log (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, type INTEGER NOT NULL, data BLOB NOT NULL, crc INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS hard_state (id INTEGER PRIMARY KEY CHECK (id = 1), term INTEGER NOT NULL, vote INTEGER NOT NULL, commit_idx INTEGER NOT NULL, ${crcColumn(L.hardState)});
`;

export const STATE_SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL, ${crcColumn(S.meta)}) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS flags (key TEXT PRIMARY KEY, json TEXT NOT NULL, ${crcColumn(S.flags)}) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS segments (name TEXT PRIMARY KEY, json TEXT NOT NULL, ${crcColumn(S.segments)}) WITHOUT ROWID;
-- which flags reference which segment (rules[].segments / excludeSegments), for SEGMENT_IN_USE.
CREATE TABLE IF NOT EXISTS flag_segments (segment TEXT NOT NULL, flag TEXT NOT NULL, ${crcColumn(S.flagSegments)}, PRIMARY KEY (segment, flag)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS flag_segments_flag ON flag_segments (flag);
-- the audit log; also the Watch resume window and the outbox. env: a flag change outside the default environment (NULL otherwise).
CREATE TABLE IF NOT EXISTS changes (revision INTEGER NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, op TEXT NOT NULL,
  before TEXT, after TEXT, actor TEXT NOT NULL, time INTEGER NOT NULL, env TEXT, ${crcColumn(S.changes)}, PRIMARY KEY (revision, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS changes_key ON changes (kind, key, revision);
-- environments (the default one's flags are the flags table; the others' configurations are env_flags).
CREATE TABLE IF NOT EXISTS environments (name TEXT PRIMARY KEY, json TEXT NOT NULL, ${crcColumn(S.environments)}) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS env_flags (env TEXT NOT NULL, key TEXT NOT NULL, json TEXT NOT NULL, ${crcColumn(S.envFlags)}, PRIMARY KEY (env, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS env_flag_segments (env TEXT NOT NULL, segment TEXT NOT NULL, flag TEXT NOT NULL, ${crcColumn(S.envFlagSegments)}, PRIMARY KEY (env, segment, flag)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS env_flag_segments_flag ON env_flag_segments (env, flag);
CREATE TABLE IF NOT EXISTS change_requests (id TEXT PRIMARY KEY, json TEXT NOT NULL, ${crcColumn(S.changeRequests)}) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS schedules (id TEXT PRIMARY KEY, json TEXT NOT NULL, ${crcColumn(S.schedules)}) WITHOUT ROWID;
-- de-duplication of retried writes (Raft thesis 6.3): the first result of (client_id, request_id).
CREATE TABLE IF NOT EXISTS client_requests (client_id TEXT NOT NULL, request_id TEXT NOT NULL, revision INTEGER NOT NULL, result TEXT NOT NULL,
  ${crcColumn(S.requests)}, PRIMARY KEY (client_id, request_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS client_requests_rev ON client_requests (revision);
CREATE TABLE IF NOT EXISTS members (id INTEGER PRIMARY KEY, address TEXT NOT NULL, ${crcColumn(S.members)});
-- the replicated clock (src/retention.ts): the newest command time at each prune point; age limits are read from it.
CREATE TABLE IF NOT EXISTS clock_samples (revision INTEGER PRIMARY KEY, time INTEGER NOT NULL, ${crcColumn(S.clockSamples)});
-- rows of a restore in progress (restoreChunk entries); moved into the live tables by restoreCommit.
CREATE TABLE IF NOT EXISTS restore_flags (key TEXT PRIMARY KEY, json TEXT NOT NULL, ${crcColumn(S.restoreFlags)}) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS restore_segments (name TEXT PRIMARY KEY, json TEXT NOT NULL, ${crcColumn(S.restoreSegments)}) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS restore_flag_segments (segment TEXT NOT NULL, flag TEXT NOT NULL, ${crcColumn(S.restoreFlagSegments)}, PRIMARY KEY (segment, flag)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS restore_environments (name TEXT PRIMARY KEY, json TEXT NOT NULL, ${crcColumn(S.restoreEnvironments)}) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS restore_env_flags (env TEXT NOT NULL, key TEXT NOT NULL, json TEXT NOT NULL, ${crcColumn(S.restoreEnvFlags)}, PRIMARY KEY (env, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS restore_change_requests (id TEXT PRIMARY KEY, json TEXT NOT NULL, ${crcColumn(S.restoreChangeRequests)}) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS restore_schedules (id TEXT PRIMARY KEY, json TEXT NOT NULL, ${crcColumn(S.restoreSchedules)}) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS restore_changes (revision INTEGER NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, op TEXT NOT NULL,
  before TEXT, after TEXT, actor TEXT NOT NULL, time INTEGER NOT NULL, env TEXT, ${crcColumn(S.restoreChanges)}, PRIMARY KEY (revision, seq)) WITHOUT ROWID;
`;
