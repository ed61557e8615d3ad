// Row checksums on a real SQLite file: a byte flipped inside a stored value
// of a stopped node's file (which SQLite's quick_check does not see) makes the
// open refuse with an error naming the file, the table and the row; with no
// time for the scan on open, the damaged row is refused when read.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EntryType } from '@flagraft/raft-core';
import { rowCrc } from './checksum.js';
import { openStorage, type NodeStorage, type StorageOptions } from './open.js';
import { StoreCorruptError } from './sqlite.js';

/** Flips one byte in the middle of the first occurrence of `marker` in the file; fails the test if the marker is not there. */
function flipInside(file: string, marker: string): void {
  const buf = readFileSync(file);
  const at = buf.indexOf(Buffer.from(marker));
  expect(at, `${marker} in ${file}`).toBeGreaterThan(0);
  buf[at + Math.floor(marker.length / 2)] ^= 0x01;
  writeFileSync(file, buf);
}

describe('row checksums', () => {
  let dir: string;
  let statePath: string;
  let logPath: string;
  const open = (over: Partial<StorageOptions> = {}): NodeStorage =>
    openStorage({ statePath, clusterId: 'c1', nodeId: 1, bootstrap: { members: [{ id: 1, address: 'a:1' }] }, tailCacheEntries: 2, ...over });
  const close = (s: NodeStorage) => { s.log.close(); s.state.close(); };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'crc-'));
    statePath = join(dir, 'flagraft.db');
    logPath = join(dir, 'raft-log.db');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('rowCrc tells apart values that run into each other, nulls and empty strings', () => {
    expect(rowCrc(['ab', 'c'])).not.toBe(rowCrc(['a', 'bc']));
    expect(rowCrc([null])).not.toBe(rowCrc(['']));
    expect(rowCrc([1, 'x'])).toBe(rowCrc(['1', 'x']));
  });

  /** Writes one row holding `marker` in each state table, stops, flips a byte inside one, reopens. */
  const cases: [string, (s: NodeStorage, m: string) => void, RegExp][] = [
    ['flags', (s, m) => s.state.putFlag('f1', JSON.stringify({ key: 'f1', description: m }), []), /table flags, row key="f1"/],
    ['segments', (s, m) => s.state.putSegment('s1', JSON.stringify({ name: 's1', note: m })), /table segments, row name="s1"/],
    ['changes', (s, m) => s.state.addChange({ revision: 7, seq: 0, kind: 'flag', key: 'f1', op: 'put', before: null, after: '{}', actor: m, time: 1 }), /table changes, row revision=7, seq=0/],
    ['client_requests', (s, m) => s.state.putRequest('client-1', 'req-1', 7, JSON.stringify({ ok: true, note: m })), /table client_requests, row client_id="client-1", request_id="req-1"/],
    ['members', (s, m) => s.state.putMember(2, `${m}:7002`), /table members, row id=2/],
    ['meta', (s, m) => s.state.setMeta('published', `${m}`), /table meta, row k="published"/],
  ];
  for (const [table, write, named] of cases) {
    it(`refuses to open a state file with a byte flipped inside a ${table} value, naming the file, table and row`, () => {
      const marker = `MARKER-${table}-0123456789`;
      const s = open();
      s.state.transaction(() => write(s, marker));
      close(s);
      // SQLite's own check does not see it: the damage is inside a cell.
      flipInside(statePath, marker);
      const db = new Database(statePath, { readonly: true });
      expect(db.pragma('quick_check', { simple: true })).toBe('ok');
      db.close();
      let err: Error | undefined;
      try { close(open({ bootstrap: undefined })); } catch (e) { err = e as Error; }
      expect(err).toBeInstanceOf(StoreCorruptError);
      expect(err!.message).toContain(statePath);
      expect(err!.message).toMatch(named);
      expect(err!.message).toContain('Rebuild a damaged node');
    });
  }

  it('refuses a log entry flipped outside the in-memory tail on open (not only when read)', () => {
    const s = open();
    const entries = Array.from({ length: 6 }, (_, i) => ({ index: i + 1, term: 1, type: EntryType.Normal, data: Buffer.from(`ENTRY-${i + 1}-abcdefgh`) }));
    s.log.write(true, () => s.log.append(entries));
    close(s);
    flipInside(logPath, 'ENTRY-1-abcdefgh');
    let err: Error | undefined;
    try { close(open({ bootstrap: undefined })); } catch (e) { err = e as Error; }
    expect(err).toBeInstanceOf(StoreCorruptError);
    expect(err!.message).toContain(`${logPath}, table log, row idx=1`);
  });

  it('refuses a hard state whose vote changed on disk under an unchanged checksum', () => {
    const s = open();
    s.log.write(true, () => s.log.setHardState({ term: 3, vote: 1, commit: 0 }));
    close(s);
    const db = new Database(logPath);
    // Without the node's function the row cannot even be written.
    expect(() => db.prepare('UPDATE hard_state SET vote = 2').run()).toThrow(/flagraft_crc/);
    // Damage: the vote changes, the stored checksum stays the one of vote 1.
    const crc = db.prepare('SELECT crc FROM hard_state').pluck().get() as number;
    db.function('flagraft_crc', { varargs: true }, () => crc);
    db.prepare('UPDATE hard_state SET vote = 2').run();
    db.close();
    expect(() => open({ bootstrap: undefined })).toThrow(/raft-log\.db, table hard_state, row id=1/);
  });

  it('with no time for the scan on open, a damaged row is refused when it is read', () => {
    const s = open();
    s.state.transaction(() => s.state.putFlag('f1', JSON.stringify({ key: 'f1', description: 'MARKER-late-0123456789' }), []));
    close(s);
    flipInside(statePath, 'MARKER-late-0123456789');
    const r = open({ bootstrap: undefined, verifyBudgetMs: -1 });
    try {
      expect(r.verified.complete).toBe(false);
      expect(() => r.state.itemJson('flag', 'f1')).toThrow(/table flags, row key="f1"/);
      expect(() => r.state.allJson('flag')).toThrow(StoreCorruptError);
      expect(() => r.state.liveRows()).toThrow(StoreCorruptError);
    } finally {
      close(r);
    }
  });

  it('a clean file passes the full scan on open', () => {
    const s = open();
    s.state.transaction(() => s.state.putFlag('f1', '{"key":"f1"}', ['seg']));
    close(s);
    const r = open({ bootstrap: undefined });
    expect(r.verified.complete).toBe(true);
    expect(r.verified.rows).toBeGreaterThan(5);
    expect(r.state.itemJson('flag', 'f1')).toBe('{"key":"f1"}');
    expect(r.state.segmentUsers('seg')).toEqual(['f1']);
    close(r);
  });
});
