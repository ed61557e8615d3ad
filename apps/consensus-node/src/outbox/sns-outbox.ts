import { PublishBatchCommand, SNSClient, type PublishBatchRequestEntry } from '@aws-sdk/client-sns';
import { EventKeyRing, EventKeySet, watchEventKeysFile, type FileWatch } from '@flagraft/auth';
import type { Outbox, OutboxContext, SnsOutboxConfig } from '../outbox-types.js';
import {
  chainEvents, deduplicationId, encodeEvent, isResetEvent, messageGroupId, resetEvent, signedMessageAttributes, splitBatches, truncateEvent, type SnsEntry,
} from './event-body.js';

/**
 * The transactional outbox publisher (docs/ARCHITECTURE.md "The notification path").
 *
 * The replicated `changes` table is the outbox. Only the leader publishes: it
 * reads changes after the replicated `published` revision in revision order,
 * publishes them with PublishBatch, and after SNS has acknowledged everything
 * up to revision R it proposes published(R) through Raft (batched, at most
 * every proposeIntervalMs), so a new leader resumes from there. A leader that
 * dies between publish and proposal makes the next one publish some changes
 * again: delivery is at least once, and consumers drop duplicates by revision
 * (FIFO topics also de-duplicate by MessageDeduplicationId = revision).
 *
 * A restore from a backup is announced, not replayed: the imported history is
 * never published; when the restored revision is above the cursor, one reset
 * marker (event-body.ts, ResetEvent) is published at the restore's revision,
 * acked and recorded with published(R) like any change, so the following
 * changes chain to it. A leader change before published(R) is replicated
 * makes the successor publish the same marker again (a duplicate by revision).
 *
 * Every message is signed (HMAC-SHA256, `flagraft-sig` attribute) with the
 * active key of FLAGRAFT_EVENT_KEYS_FILE; the file is re-read when it changes
 * and on SIGHUP, so a rotation needs no restart (docs/CONTRACTS.md "Change
 * event signatures").
 *
 * Nothing here is on the write path: the loop runs beside the node, woken by
 * onApplied, so SNS being slow or down never blocks or slows a write; it only
 * grows the publish lag, which metrics() reports.
 */

export interface SnsOutboxTuning {
  /** FIFO MessageGroupId: one group per flag/segment key (default), or one group for all. */
  messageGroup?: 'key' | 'single';
  /** Changes read from the table per page (count; whole revisions are kept together). */
  pageSize?: number;
  /** Least time between two published(R) proposals, ms. */
  proposeIntervalMs?: number;
  /** First and largest retry delay after an SNS failure, ms (doubles, with jitter). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** One PublishBatch call may take at most this long before it is abandoned and retried, ms. */
  publishTimeoutMs?: number;
  /** When no onApplied arrives, look at the table anyway this often, ms (covers missed wake-ups). */
  idlePollMs?: number;
  /** The signing keys, instead of eventKeysFile (embedders, tests). */
  eventKeys?: EventKeyRing;
  /** How often eventKeysFile is checked for changes, ms (0 = only on SIGHUP). */
  eventKeysPollMs?: number;
}

export type SnsOutboxOptions = SnsOutboxConfig & SnsOutboxTuning;

/** PublishBatch takes at most 10 entries. */
export const SNS_MAX_BATCH_ENTRIES = 10;

const DEFAULTS = {
  messageGroup: 'key' as const,
  pageSize: 500,
  proposeIntervalMs: 100,
  minBackoffMs: 100,
  maxBackoffMs: 10_000,
  publishTimeoutMs: 5_000,
  idlePollMs: 1_000,
  eventKeysPollMs: 2_000,
};

export class OutboxConfigError extends Error {
  override readonly name = 'OutboxConfigError';
}

function checkInt(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new OutboxConfigError(`sns outbox: ${name} must be an integer from ${min} to ${max} (got ${v})`);
}

interface Counters {
  published: number;
  publishCalls: number;
  publishErrors: number;
  entryFailures: number;
  truncated: number;
  skipped: number;
  proposals: number;
  proposeErrors: number;
  /** Reset markers acknowledged by SNS (restores announced; re-publications after a leader change count again). */
  resets: number;
}

export function createSnsOutbox(config: SnsOutboxOptions): Outbox {
  if (!config || typeof config.topicArn !== 'string' || !config.topicArn.startsWith('arn:')) {
    throw new OutboxConfigError(`sns outbox: topicArn must be an SNS topic ARN (got ${JSON.stringify(config?.topicArn)})`);
  }
  if (typeof config.region !== 'string' || config.region === '') throw new OutboxConfigError('sns outbox: region is required');
  const o = { ...DEFAULTS, ...stripUndefined(config) };
  const fifo = config.fifo ?? config.topicArn.endsWith('.fifo');
  const batchSize = config.batchSize ?? SNS_MAX_BATCH_ENTRIES;
  checkInt('batchSize', batchSize, 1, SNS_MAX_BATCH_ENTRIES);
  checkInt('pageSize', o.pageSize, 1, 100_000);
  checkInt('proposeIntervalMs', o.proposeIntervalMs, 0, 600_000);
  checkInt('minBackoffMs', o.minBackoffMs, 1, 600_000);
  checkInt('maxBackoffMs', o.maxBackoffMs, o.minBackoffMs, 3_600_000);
  checkInt('publishTimeoutMs', o.publishTimeoutMs, 10, 600_000);
  checkInt('idlePollMs', o.idlePollMs, 10, 600_000);
  if (o.messageGroup !== 'key' && o.messageGroup !== 'single') throw new OutboxConfigError('sns outbox: messageGroup must be "key" or "single"');
  checkInt('eventKeysPollMs', o.eventKeysPollMs, 0, 600_000);
  const keys = signingKeys(config);
  const eventSet = config.events ?? 'all';
  if (eventSet !== 'all' && eventSet !== 'legacy') throw new OutboxConfigError(`sns outbox: events must be "all" or "legacy" (got ${JSON.stringify(eventSet)})`);

  // A local emulator accepts any credentials: with a loopback endpoint and no
  // credentials anywhere, use placeholders. Otherwise the SDK's default chain
  // (env, profile, instance/IRSA role) applies, also for VPC endpoints.
  const credentials = config.credentials ?? (isLoopbackEndpoint(config.endpoint) && !process.env.AWS_ACCESS_KEY_ID ? { accessKeyId: 'local', secretAccessKey: 'local' } : undefined);
  // Retries are ours (with backoff, metrics and leadership checks), not the SDK's.
  const sns = new SNSClient({ region: config.region, endpoint: config.endpoint, credentials, maxAttempts: 1 });

  let ctx: OutboxContext | undefined;
  let unsubscribe: (() => void)[] = [];
  let generation = 0;
  let loop: Promise<void> | undefined;
  let stopped = false;
  let wakeUp: (() => void) | undefined;
  let acked = 0;
  let proposed = 0;
  let proposeTimer: NodeJS.Timeout | undefined;
  let proposing: Promise<void> | undefined;
  let lastProposeMs = 0;
  let lagRevisions = 0;
  let oldestUnackedMs: number | undefined;
  let lastError = '';
  const c: Counters = { published: 0, publishCalls: 0, publishErrors: 0, entryFailures: 0, truncated: 0, skipped: 0, proposals: 0, proposeErrors: 0, resets: 0 };

  const wake = () => { const w = wakeUp; wakeUp = undefined; w?.(); };
  const log = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => ctx?.log(level, msg, fields);

  /**
   * Sleeps `ms`. Leadership changes and stop() always end the nap; new
   * changes (onApplied) end it only when `onData` is set, so that a busy
   * cluster does not turn a retry backoff into a retry storm.
   */
  let dataWaiter: (() => void) | undefined;
  const nap = (ms: number, onData: boolean) => new Promise<void>((res) => {
    const done = () => {
      clearTimeout(t);
      if (wakeUp === done) wakeUp = undefined;
      if (dataWaiter === done) dataWaiter = undefined;
      res();
    };
    const t = setTimeout(done, ms);
    wakeUp = done;
    if (onData) dataWaiter = done;
  });
  const wakeOnData = () => { const w = dataWaiter; dataWaiter = undefined; w?.(); };

  const current = (gen: number) => !stopped && gen === generation && ctx !== undefined && ctx.isLeader();

  function scheduleProposal(): void {
    if (!ctx || acked <= proposed || proposeTimer || proposing) return;
    // Monotonic: after a backward wall jump, published(R) would otherwise wait the length of the jump (clock.ts).
    const wait = Math.max(0, lastProposeMs + o.proposeIntervalMs - performance.now());
    proposeTimer = setTimeout(() => { proposeTimer = undefined; void proposeNow(); }, wait);
  }

  async function proposeNow(): Promise<void> {
    if (!ctx || acked <= proposed || !ctx.isLeader()) return;
    const r = acked;
    lastProposeMs = performance.now();
    c.proposals++;
    proposing = ctx.proposePublished(r).then(() => {
      if (r > proposed) proposed = r;
    }, (err: unknown) => {
      c.proposeErrors++;
      log('warn', 'published(R) proposal failed; a later one will cover it', { revision: r, error: String((err as Error)?.message ?? err) });
    }).finally(() => { proposing = undefined; });
    await proposing;
    scheduleProposal();
  }

  /** Publishes one batch, retrying failures from the first failed entry on, until all are acked. */
  async function publishBatch(gen: number, batch: SnsEntry[]): Promise<boolean> {
    let rest = batch;
    let backoff = o.minBackoffMs;
    const truncatedOnce = new Set<string>();
    while (rest.length > 0) {
      if (!current(gen)) return false;
      const entries: PublishBatchRequestEntry[] = rest.map((e, i) => {
        const ev = e.event;
        const entry: PublishBatchRequestEntry = { Id: String(i), Message: e.body, MessageAttributes: signedMessageAttributes(ev, e.body, keys) };
        if (fifo) {
          entry.MessageGroupId = messageGroupId(ev, o.messageGroup);
          entry.MessageDeduplicationId = deduplicationId(ev);
        }
        return entry;
      });
      let firstFailed = rest.length;
      let senderFault = false;
      try {
        c.publishCalls++;
        const out = await sns.send(new PublishBatchCommand({ TopicArn: config.topicArn, PublishBatchRequestEntries: entries }), { abortSignal: AbortSignal.timeout(o.publishTimeoutMs) });
        for (const f of out.Failed ?? []) {
          const i = Number(f.Id);
          c.entryFailures++;
          if (i < firstFailed) { firstFailed = i; senderFault = f.SenderFault === true; lastError = `${f.Code}: ${f.Message}`; }
        }
      } catch (err) {
        c.publishErrors++;
        firstFailed = 0;
        lastError = String((err as Error)?.message ?? err);
      }
      const ok = rest.slice(0, firstFailed);
      if (ok.length > 0) noteAcked(ok);
      rest = rest.slice(firstFailed);
      if (rest.length === 0) return true;
      const head = rest[0]!;
      if (senderFault && isResetEvent(head.event)) {
        // Cannot happen for a few hundred bytes of JSON; if SNS refuses it anyway,
        // the next change still links to the restore's revision, so consumers see
        // the hole and resync after their gap timeout instead of at once.
        c.skipped++;
        log('error', 'SNS rejected the reset marker; skipping it (consumers will resync at the next change)', { revision: head.event.revision, error: lastError });
        noteAcked([head]);
        rest = rest.slice(1);
        continue;
      }
      if (senderFault && !isResetEvent(head.event)) {
        // SNS refuses this message itself (not a transient fault): try it without
        // the flag body once, then give up on it so the rest are not held back
        // forever. Consumers see the hole in the revision chain and resync.
        if (!truncatedOnce.has(`${head.event.revision}.${head.event.part}`) && !head.event.truncated) {
          truncatedOnce.add(`${head.event.revision}.${head.event.part}`);
          rest = [encodeEvent(truncateEvent(head.event)), ...rest.slice(1)];
          c.truncated++;
          log('error', 'SNS rejected a change event; retrying it without the flag body', { revision: head.event.revision, key: head.event.key, error: lastError });
          continue;
        }
        c.skipped++;
        log('error', 'SNS keeps rejecting a change event; skipping it (consumers will see a gap and resync)', { revision: head.event.revision, key: head.event.key, error: lastError });
        noteAcked([head]);
        rest = rest.slice(1);
        continue;
      }
      log('warn', 'SNS publish failed; retrying with backoff', { revision: head.event.revision, pending: rest.length, backoffMs: backoff, error: lastError });
      await nap(backoff * (0.5 + Math.random() / 2), false);
      backoff = Math.min(backoff * 2, o.maxBackoffMs);
    }
    return true;
  }

  /** Entries acked in order: the acked revision moves to the last revision whose every part is acked. */
  function noteAcked(entries: SnsEntry[]): void {
    for (const e of entries) {
      c.published++;
      if (isResetEvent(e.event)) c.resets++;
      if (e.event.part === e.event.parts - 1 && e.event.revision > acked) acked = e.event.revision;
    }
    scheduleProposal();
  }

  async function run(gen: number): Promise<void> {
    const cx = ctx!;
    // Resume from the replicated published revision (or from what this node
    // already had acked, if it is leader again in the same process).
    let cursor = Math.max(cx.publishedRevision(), acked);
    acked = cursor;
    proposed = Math.max(proposed, cx.publishedRevision());
    let prev = cursor;
    log('info', 'outbox publishing as leader', { fromRevision: cursor, topicArn: config.topicArn, fifo, events: eventSet });
    while (current(gen)) {
      // Checked before every read, in the same synchronous step as the read:
      // the node's readChanges never returns the imported history, so a
      // restore applied between two pages must be seen here first.
      const restored = cx.restoredRevision?.() ?? 0;
      if (restored > cursor) {
        // Changes at or below `restored` were imported from a backup (history,
        // not live changes: never published), and anything live this leader
        // had not yet published before the restore was replaced by it. One
        // marker in the chain says so; the next change links to it.
        log('info', 'the cluster was restored from a backup; publishing a reset marker instead of its imported history', { publishedRevision: cursor, restoredRevision: restored, prevRevision: prev });
        const marker = encodeEvent(resetEvent(restored, prev, 'restore'));
        lagRevisions = restored - acked;
        if (oldestUnackedMs === undefined) oldestUnackedMs = Date.now();
        if (!(await publishBatch(gen, [marker]))) return;
        cursor = restored;
        prev = restored;
        continue;
      }
      const oldest = cx.oldestRetainedRevision();
      if (cursor < oldest - 1) {
        // Changes after `cursor` were pruned before being published.
        // Continuing from `oldest - 1` and linking the next event to it (not
        // to `cursor`) makes the hole visible to the relay, which tells its
        // clients to resync.
        log('error', 'changes were pruned before they were published; consumers will be told to resync', { publishedRevision: cursor, oldestRetainedRevision: oldest });
        prev = oldest - 1;
        cursor = oldest - 1;
      }
      let page;
      try {
        page = cx.readChanges(cursor, o.pageSize, eventSet);
      } catch (err) {
        log('error', 'reading the changes table failed; retrying', { error: String(err) });
        await nap(o.maxBackoffMs, false);
        continue;
      }
      if (page.length === 0) {
        lagRevisions = 0;
        oldestUnackedMs = undefined;
        await nap(o.idlePollMs, true);
        continue;
      }
      // Defensive: only whole revisions after the cursor, in order.
      page = page.filter((e) => e.revision > cursor);
      const events = chainEvents(page, prev);
      lagRevisions = page[page.length - 1]!.revision - acked;
      const t = Date.parse(page[0]!.time);
      oldestUnackedMs = Number.isFinite(t) ? t : Date.now();
      for (const batch of splitBatches(events.map(encodeEvent), batchSize)) {
        if (!(await publishBatch(gen, batch))) return;
        const nextT = Date.parse(batch[batch.length - 1]!.event.time);
        if (Number.isFinite(nextT)) oldestUnackedMs = nextT;
      }
      cursor = page[page.length - 1]!.revision;
      prev = cursor;
    }
  }

  function onLeadership(isLeader: boolean): void {
    generation++;
    wake();
    if (!isLeader || stopped || !ctx) {
      if (proposeTimer) { clearTimeout(proposeTimer); proposeTimer = undefined; }
      return;
    }
    const gen = generation;
    const previous = loop ?? Promise.resolve();
    // The previous loop sees the new generation and ends; start after it.
    loop = previous.then(() => run(gen)).catch((err: unknown) => {
      log('error', 'outbox loop failed', { error: String((err as Error)?.stack ?? err) });
    });
  }

  let keysWatch: FileWatch | undefined;
  const onSighup = () => keysWatch?.reload();

  return {
    start(context: OutboxContext): void {
      if (ctx) throw new Error('sns outbox: already started');
      ctx = context;
      log('info', 'event signing keys loaded', { activeKeyId: keys.current.activeKeyId, keyIds: keys.current.keyIds });
      if (config.eventKeysFile && !config.eventKeys) {
        keysWatch = watchEventKeysFile(config.eventKeysFile, keys, o.eventKeysPollMs, { requireActive: true }, (r) => (r.ok
          ? log('info', 'event signing keys reloaded', { activeKeyId: r.activeKeyId, keyIds: r.keyIds })
          : log('error', 'event keys file not reloaded; the previous keys stay in use', { error: r.error })));
        // SIGHUP re-reads the keys file now (the node has no other use for it).
        process.on('SIGHUP', onSighup);
      }
      acked = 0;
      proposed = context.publishedRevision();
      unsubscribe = [
        context.onLeadershipChange((isLeader) => onLeadership(isLeader)),
        context.onApplied(() => wakeOnData()),
      ];
      if (context.isLeader()) onLeadership(true);
    },

    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      generation++;
      wake();
      keysWatch?.close();
      process.off('SIGHUP', onSighup);
      for (const u of unsubscribe) u();
      if (proposeTimer) { clearTimeout(proposeTimer); proposeTimer = undefined; }
      await loop;
      await proposing;
      // Best effort: record what SNS already acknowledged so a successor does not re-publish it.
      if (ctx && ctx.isLeader() && acked > proposed) {
        await Promise.race([
          ctx.proposePublished(acked).then(() => { proposed = acked; }, () => undefined),
          new Promise((r) => setTimeout(r, 1000).unref()),
        ]);
      }
      sns.destroy();
    },

    metrics(): Record<string, number> {
      const publishing = ctx !== undefined && !stopped && ctx.isLeader() ? 1 : 0;
      return {
        publishing,
        ackedRevision: acked,
        proposedRevision: proposed,
        lagRevisions: publishing ? lagRevisions : 0,
        lagMs: publishing && oldestUnackedMs !== undefined ? Math.max(0, Date.now() - oldestUnackedMs) : 0,
        ...c,
      };
    },
  };
}

/** The ring that signs: given, or loaded from eventKeysFile; it must have an active key. */
function signingKeys(config: SnsOutboxOptions): EventKeyRing {
  if (config.eventKeys) {
    if (config.eventKeys.current.activeKeyId === undefined) throw new OutboxConfigError('sns outbox: eventKeys has no active key to sign with');
    return config.eventKeys;
  }
  if (!config.eventKeysFile) {
    throw new OutboxConfigError('sns outbox: eventKeysFile (FLAGRAFT_EVENT_KEYS_FILE) is required: every event is signed and relays refuse unsigned ones');
  }
  try {
    return new EventKeyRing(EventKeySet.load(config.eventKeysFile, { requireActive: true }));
  } catch (err) {
    throw new OutboxConfigError(`sns outbox: ${(err as Error).message}`);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function isLoopbackEndpoint(endpoint: string | undefined): boolean {
  if (!endpoint) return false;
  try {
    const h = new URL(endpoint).hostname;
    return h === 'localhost' || h === '[::1]' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
  } catch {
    return false;
  }
}
