// Data dirs written by earlier builds of the node open with today's node and
// keep working: same flags, segments, history, revisions (a restore's offset
// included), de-duplicated retries, compaction point; new writes continue the
// revision sequence and survive a restart; the files are converted to today's
// format on that first open. The fixtures (made by fixtures/make-data-dir.mjs):
//  - data-dir-v2: storage format 2, the build of commit c08f06b (before the
//    storage split into a log store and a state store, and row checksums);
//  - data-dir-v3: storage format 3, the build of commit fcad03b (before
//    environments): it becomes environment `production`, history intact.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterClient, type ClusterClient } from '@flagraft/cluster-client';
import { startLocalCluster, type LocalCluster } from '@flagraft/testkit';
import { flag } from './helpers.js';
import { rowCrc } from '../src/storage/checksum.js';
import { FORMAT_VERSION, LOG_CHECKED, STATE_CHECKED } from '../src/storage/schema.js';
import type { StoredEnvironment } from '@flagraft/flag-model';

describe.each(['data-dir-v2', 'data-dir-v3'])('a data dir written by earlier storage code (%s)', (fixture) => {
  const FIXTURE = new URL(`./fixtures/${fixture}/`, import.meta.url).pathname;
  const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8'));
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

  it('converted both files to today\'s storage format: every row of every table carries a checksum that verifies', () => {
    for (const [f, tables] of [['flagraft.db', STATE_CHECKED], ['raft-log.db', LOG_CHECKED]] as const) {
      const db = new Database(join(base, 'node-1', f), { readonly: true });
      try {
        expect(db.prepare("SELECT v FROM meta WHERE k = 'format'").pluck().get(), f).toBe(String(FORMAT_VERSION));
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

// Runs after the suites above on its own copy: the upgraded data dir is environment-aware.
describe('a format 3 data dir becomes the default environment', () => {
  const FIXTURE = new URL('./fixtures/data-dir-v3/', import.meta.url).pathname;
  const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8'));
  let base: string;
  let cluster: LocalCluster;
  let client: ClusterClient;

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'flagraft-compat-env-'));
    mkdirSync(join(base, 'node-1'));
    for (const f of ['flagraft.db', 'raft-log.db']) copyFileSync(join(FIXTURE, f), join(base, 'node-1', f));
    cluster = await startLocalCluster({ size: 1, clusterId: expected.clusterId, baseDir: base });
    client = createClusterClient({ ...cluster.clientOptions(), clientId: 'env-upgrade' });
  });
  afterAll(async () => {
    client?.close();
    await cluster?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  it('holds environment production (default, production) with every flag, its revisions and history; new environments copy them', async () => {
    const envs = await client.query<StoredEnvironment[]>('environments');
    expect(envs).toEqual([{ environment: { name: 'production', production: true }, isDefault: true, createRevision: 0, modRevision: 0, version: 1, updatedAt: 0, updatedBy: 'flagraft' }]);
    const prod = await client.snapshotAll({ environment: 'production' });
    expect(prod.flags).toEqual(expected.snapshot.flags);
    expect(await client.history('live-0', { limit: 1000, environment: 'production' })).toEqual(expected.history['live-0']);

    const created = await client.propose({ op: 'putEnvironment', environment: { name: 'staging', displayName: 'Staging' } }, { actor: 'ops' });
    const staging = await client.snapshotAll({ environment: 'staging' });
    expect(staging.flags.map((f) => f.flag)).toEqual(expected.snapshot.flags.map((f: { flag: unknown }) => f.flag));
    expect(staging.flags.every((f) => f.createRevision === created.revision)).toBe(true);
    // A configuration change in staging leaves production (and its history) as it was.
    const f0 = staging.flags[0].flag;
    await client.putFlag({ ...f0, enabled: !f0.enabled }, { actor: 'ops', environment: 'staging' });
    expect((await client.getFlag(f0.key))?.flag.enabled).toBe(f0.enabled);
    expect((await client.getFlag(f0.key, { environment: 'staging' }))?.flag.enabled).toBe(!f0.enabled);
    expect(await client.history('live-0', { limit: 1000 })).toEqual(expected.history['live-0']);
    await cluster.nodes[0].restart();
    expect((await client.getFlag(f0.key, { environment: 'staging' }))?.flag.enabled).toBe(!f0.enabled);
    expect((await client.snapshotAll()).flags).toEqual(expected.snapshot.flags);
  });
});
