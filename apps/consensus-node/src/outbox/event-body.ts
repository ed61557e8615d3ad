import { createHash } from 'node:crypto';
import type { ChangeEvent } from '../outbox-types.js';

/**
 * How a change becomes an SNS message. The body is the versioned ChangeEvent
 * of docs/CONTRACTS.md plus the chain fields the relay uses to restore
 * revision order and prove it has missed nothing:
 *   part / parts   position of this change among those of its revision
 *                  (an atomic batch makes several changes at one revision)
 *   prevRevision   revision of the previous change in the `changes` table
 */
export interface PublishedEvent extends ChangeEvent {
  part: number;
  parts: number;
  prevRevision: number;
  /** The flag/segment was left out because the message would exceed SNS's size limit; reload through the gateway. */
  truncated?: true;
}

/** SNS limit for one message, and for all messages of one PublishBatch together (bytes). */
export const SNS_MAX_PAYLOAD_BYTES = 262_144;
/** Room kept for message attributes and FIFO ids inside that limit (bytes). */
const ATTRIBUTE_ALLOWANCE_BYTES = 2_048;
export const MAX_EVENT_BODY_BYTES = SNS_MAX_PAYLOAD_BYTES - ATTRIBUTE_ALLOWANCE_BYTES;
/** FIFO MessageGroupId: at most 128 characters of alphanumerics and punctuation. */
const GROUP_ID_RE = /^[\x21-\x7e]{1,128}$/;

/** Adds part/parts/prevRevision to one page of changes (whole revisions, revision order). */
export function chainEvents(page: ChangeEvent[], prevRevision: number): PublishedEvent[] {
  const out: PublishedEvent[] = [];
  let i = 0;
  let prev = prevRevision;
  while (i < page.length) {
    const rev = page[i]!.revision;
    let j = i;
    while (j < page.length && page[j]!.revision === rev) j++;
    for (let k = i; k < j; k++) out.push({ ...page[k]!, part: k - i, parts: j - i, prevRevision: prev });
    prev = rev;
    i = j;
  }
  return out;
}

export interface SnsEntry {
  event: PublishedEvent;
  body: string;
  bytes: number;
}

/** Serialises an event; a body over MAX_EVENT_BODY_BYTES is replaced by its truncated form. */
export function encodeEvent(ev: PublishedEvent): SnsEntry {
  let body = JSON.stringify(ev);
  let bytes = Buffer.byteLength(body);
  if (bytes > MAX_EVENT_BODY_BYTES) {
    const { flag: _f, segment: _s, ...rest } = ev;
    const t: PublishedEvent = { ...rest, truncated: true };
    body = JSON.stringify(t);
    bytes = Buffer.byteLength(body);
    return { event: t, body, bytes };
  }
  return { event: ev, body, bytes };
}

export function messageGroupId(ev: ChangeEvent, mode: 'key' | 'single'): string {
  if (mode === 'single') return 'flagraft';
  const g = `${ev.kind}:${ev.key}`;
  return GROUP_ID_RE.test(g) ? g : `${ev.kind}:sha256:${createHash('sha256').update(ev.key).digest('hex')}`;
}

/** Deterministic, so a new leader re-publishing the same change is de-duplicated by a FIFO topic. */
export function deduplicationId(ev: PublishedEvent): string {
  return ev.parts === 1 ? String(ev.revision) : `${ev.revision}.${ev.part}`;
}

/** Splits entries into PublishBatch calls: at most `maxEntries` and SNS_MAX_PAYLOAD_BYTES each. */
export function splitBatches(entries: SnsEntry[], maxEntries: number): SnsEntry[][] {
  const out: SnsEntry[][] = [];
  let cur: SnsEntry[] = [];
  let size = 0;
  for (const e of entries) {
    const cost = e.bytes + ATTRIBUTE_ALLOWANCE_BYTES;
    if (cur.length > 0 && (cur.length >= maxEntries || size + cost > SNS_MAX_PAYLOAD_BYTES)) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(e);
    size += cost;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}
