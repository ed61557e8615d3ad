// A data dir written by an earlier build of the node (test/fixtures/data-dir-v2,
// made by fixtures/make-data-dir.mjs with the build of commit c08f06b, before
// the storage was split into a log store and a state store) opens with today's
// node and keeps working: same flags, segments, history, revisions (a restore's
// offset included), de-duplicated retries, compaction point; new writes
// continue the revision sequence and survive a restart; the files are converted
// to format 3 (a checksum on every row) on that first open.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterClient, type ClusterClient } from '@flagraft/cluster-client';
import { startLocalCluster, type LocalCluster } from '../src/index.js';
import { flag } from './helpers.js';
import { rowCrc } from '../src/storage/checksum.js';
import { LOG_CHECKED, STATE_CHECKED } from '../src/storage/schema.js';

const FIXTURE = new URL('./fixtures/data-dir-v2/', import.meta.url).pathname;
const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8'));

describe('a data dir written by the previous storage code', () => {
  let base: string;
  let cluster: LocalCluster;
  let client: ClusterClient;

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'flagraft-compat-'));
    mkdirSync(join(base, 'node-1'));
    for (const f of ['flagraft.db', 'raft-log.db']) copyFileSync(join(FIXTURE, f), join(base, 'node-1', f));
    cluster = await startLocalCluster({ size: 1, clusterId: expected.clusterId, baseDir: base });
    client = createClusterClient({ ...cluster.clientOptions(), clientId: expected.clientId });
  });
  afterAll(async () => {
    client?.close();
    await cluster?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  it('serves the same state, history and revisions', async () => {
    const snap = await client.snapshotAll();
    expect(snap.flags).toEqual(expected.snapshot.flags);
    expect(snap.segments).toEqual(expected.snapshot.segments);
    // The restarted leader's no-op is the only entry since.
    expect(snap.revision).toBe(expected.snapshot.revision + 1);
    for (const [key, changes] of Object.entries(expected.history)) {
      const h = key.startsWith('segment:') ? await client.history(key.slice(8), { kind: 'segment', limit: 1000 }) : await client.history(key, { limit: 1000 });
      expect(h, key).toEqual(changes);
    }
    const st = await client.status();
    expect(st.restoredRevision).toBe(expected.status.restoredRevision);
    expect(st.oldestRetainedRevision).toBe(expected.status.oldestRetainedRevision);
    expect(st.firstIndex).toBe(expected.status.firstIndex);
    expect(st.appliedIndex).toBe(expected.status.appliedIndex + 1);
    expect(st.appliedRevision).toBe(expected.status.appliedRevision + 1);
    expect(st.term).toBeGreaterThan(expected.status.term);
  });

  it('answers a retried write with its first result, and new writes continue the sequence across a restart', async () => {
    const retry = await client.putFlag(flag('once', 'second'), { actor: 'frank', requestId: expected.dedup.requestId });
    expect(retry.revision).toBe(expected.dedup.revision);
    expect((await client.getFlag('once'))?.flag.description).toBe('first');
    // A retry is an entry too (applied as "already done"): read where the sequence is now.
    const before = await client.status();
    const next = await client.putFlag(flag('after-upgrade', 'x'), { actor: 'grace' });
    expect(next.revision).toBe(Number(before.appliedRevision) + 1);
    await cluster.nodes[0].restart();
    const again = await client.putFlag(flag('after-restart', 'y'), { actor: 'grace' });
    expect(again.revision).toBeGreaterThan(next.revision);
    expect((await client.getFlag('after-upgrade'))?.modRevision).toBe(next.revision);
    expect((await client.history('live-0', { limit: 1000 }))).toEqual(expected.history['live-0']);
  });

  it('converted both files to storage format 3: every row of every table carries a checksum that verifies', () => {
    for (const [f, tables] of [['flagraft.db', STATE_CHECKED], ['raft-log.db', LOG_CHECKED]] as const) {
      const db = new Database(join(base, 'node-1', f), { readonly: true });
      try {
        expect(db.prepare("SELECT v FROM meta WHERE k = 'format'").pluck().get(), f).toBe('3');
        let rows = 0;
        for (const t of Object.values(tables)) {
          for (const r of db.prepare(`SELECT ${t.columns.join(', ')}, crc FROM ${t.table}`).all() as Record<string, unknown>[]) {
            expect(r.crc, `${f} ${t.table}`).toBe(rowCrc(t.columns.map((c) => r[c])));
            rows++;
          }
        }
        expect(rows, f).toBeGreaterThan(f === 'flagraft.db' ? 100 : 3);
      } finally {
        db.close();
      }
    }
  });
});
