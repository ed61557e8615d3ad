import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, MAX_QUEUED_LOG_LINES } from './log.js';

const dir = mkdtempSync(join(tmpdir(), 'gw-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('createLogger', () => {
  it('writes JSON lines asynchronously, in order, and drains', async () => {
    const file = join(dir, 'a.log');
    const fd = openSync(file, 'w');
    const log = createLogger({ app: 'gateway', fd });
    for (let i = 0; i < 2500; i++) log.log('info', 'line', { i });
    log.log('debug', 'hidden');
    await log.drain();
    closeSync(fd);
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2500);
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 2500 }, (_, i) => i));
    expect(lines[0]).toMatchObject({ level: 'info', msg: 'line', app: 'gateway' });
    expect(typeof lines[0].t).toBe('string');
  });

  it('drops and counts lines beyond the queue bound instead of growing memory', async () => {
    const chunks: string[] = [];
    const log = createLogger({ app: 'gateway', write: (c) => chunks.push(c) });
    for (let i = 0; i < MAX_QUEUED_LOG_LINES + 50; i++) log.log('warn', 'burst', { i }); // all in one tick
    expect(log.dropped).toBe(50);
    await log.drain();
    expect(chunks.join('').trim().split('\n')).toHaveLength(MAX_QUEUED_LOG_LINES);
  });

  it('survives fields that cannot be serialised', async () => {
    const chunks: string[] = [];
    const log = createLogger({ app: 'gateway', write: (c) => chunks.push(c) });
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    log.log('error', 'odd', { loop });
    log.flush();
    expect(JSON.parse(chunks.join(''))).toMatchObject({ msg: 'odd', note: 'fields not serialisable' });
  });
});
