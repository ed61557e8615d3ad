// The global audit log (the `changes` query) on a real SQLite file: changes
// written through the real apply path, then read with every filter and paged
// through a batch, whose changes share one revision.
import { describe, expect, it } from 'vitest';
import { encodeCommand, type Command } from '@flagraft/flag-model';
import { auditQuery } from './audit-log.js';
import { ApiError } from './errors.js';
import { StateMachine } from './state-machine.js';
import { DEFAULT_RETENTION } from './retention.js';
import { tempStorages } from '../test/temp-storage.js';

const storages = tempStorages('flagraft-audit-');

const T0 = 1_700_000_000_000;
const flag = (key: string, enabled = true) => ({ key, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'on', enabled, rules: [] });

function replica() {
  const storage = storages.open(storages.dir());
  const sm = new StateMachine(storage.state, { ...DEFAULT_RETENTION, changesRetentionRevisions: 10_000, pruneEveryRevisions: 100 });
  let index = 0;
  const write = (body: Record<string, unknown>, actor: string, time: number) => {
    index++;
    const out = sm.atomically({ index, term: 1 }, () => sm.applyCommandEntry(index, encodeCommand({ v: 1, actor, time, ...body } as Command)));
    if (!out.outcome.ok) throw new Error(out.outcome.error.message);
  };
  return { sm, write };
}

/** (kind key actor env) of each change, newest first. */
const summary = (p: { changes: { kind: string; key: string; actor: string; env?: string }[] }) => p.changes.map((c) => `${c.kind} ${c.key} ${c.actor}${c.env ? ` ${c.env}` : ''}`);

describe('the changes query (global audit log)', () => {
  it('lists every kind newest first, filters by kind, key, actor, environment and time, and pages through a batch', () => {
    const r = replica();
    r.write({ op: 'putSegment', segment: { name: 'beta', conditions: [] } }, 'ada', T0 + 1000);
    r.write({ op: 'putFlag', flag: flag('checkout') }, 'eddie', T0 + 2000);
    r.write({ op: 'putEnvironment', environment: { name: 'staging' } }, 'ada', T0 + 3000);
    r.write({ op: 'putFlag', flag: flag('checkout', false), env: 'staging' }, 'erin', T0 + 4000);
    r.write({ op: 'batch', ops: [{ op: 'putFlag', flag: flag('a') }, { op: 'putFlag', flag: flag('b') }, { op: 'putFlag', flag: flag('c') }] }, 'eddie', T0 + 5000);

    const all = auditQuery(r.sm, {});
    // A new environment gets every flag's configuration, and a new flag one in every environment: changes too.
    expect(summary(all)).toEqual([
      'flag c eddie staging', 'flag c eddie', 'flag b eddie staging', 'flag b eddie', 'flag a eddie staging', 'flag a eddie',
      'flag checkout erin staging', 'flag checkout ada staging', 'environment staging ada', 'flag checkout eddie', 'segment beta ada',
    ]);
    expect(all.nextPageToken).toBeUndefined();
    expect(all.changes[0]).toMatchObject({ op: 'put', time: T0 + 5000, before: null, after: { flag: { key: 'c' } } });

    expect(summary(auditQuery(r.sm, { kind: 'segment' }))).toEqual(['segment beta ada']);
    expect(summary(auditQuery(r.sm, { key: 'checkout' }))).toEqual(['flag checkout erin staging', 'flag checkout ada staging', 'flag checkout eddie']);
    expect(summary(auditQuery(r.sm, { actor: 'ada' }))).toEqual(['flag checkout ada staging', 'environment staging ada', 'segment beta ada']);
    expect(summary(auditQuery(r.sm, { environment: 'staging', actor: 'erin' }))).toEqual(['flag checkout erin staging']);
    expect(summary(auditQuery(r.sm, { environment: 'staging' }))).toHaveLength(5);
    // The default environment by its name: its flag changes only, not segments or environments.
    expect(summary(auditQuery(r.sm, { environment: 'production', key: 'checkout' }))).toEqual(['flag checkout eddie']);
    expect(summary(auditQuery(r.sm, { sinceMs: T0 + 2000, untilMs: T0 + 4000 }))).toEqual(['flag checkout ada staging', 'environment staging ada', 'flag checkout eddie']);

    // Four a page: the batch's six changes (one revision) split across pages, none lost or repeated.
    const seen: string[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const p = auditQuery(r.sm, { limit: 4, pageToken });
      seen.push(...summary(p));
      pageToken = p.nextPageToken;
      pages++;
    } while (pageToken);
    expect(pages).toBe(3);
    expect(seen).toEqual(summary(all));
  });

  it('names the bad argument', () => {
    const r = replica();
    for (const [args, word] of [
      [{ kind: 'flags' }, 'kind'],
      [{ limit: 0 }, 'limit'],
      [{ limit: 1001 }, 'limit'],
      [{ pageToken: 'x' }, 'pageToken'],
      [{ actor: 7 }, 'actor'],
      [{ sinceMs: -1 }, 'sinceMs'],
      [{ key: 'k'.repeat(300) }, 'key'],
    ] as const) {
      let err: unknown;
      try {
        auditQuery(r.sm, args as Record<string, unknown>);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ApiError);
      expect((err as Error).message).toContain(`args_json.${word}`);
    }
  });
});
