// What the node puts in Raft entries. A Normal entry's data is one tag byte
// saying what kind of payload follows; a ConfChange entry's context is a
// small JSON object (the new member's peer address, and a nonce that finds the
// caller waiting for it). Written by proposer.ts, read by state-machine.ts.
import type { RestoreCommand } from '@flagraft/flag-model';

/** First byte of every Normal entry's data: what kind of payload follows. */
export const TAG_COMMAND = 1; // a flag-model Command (encodeCommand)
export const TAG_INTERNAL = 2; // a node-internal JSON command, e.g. published(R)
export const TAG_RESTORE = 3; // a flag-model RestoreCommand (encodeRestoreCommand)

/** A node-internal command (TAG_INTERNAL; JSON). `nonce` finds the caller waiting for it. */
export interface InternalCommand { op: 'published'; revision: number; nonce?: string }

export function encodeEntry(tag: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 1);
  out[0] = tag;
  out.set(payload, 1);
  return out;
}

/** Context carried in a ConfChange entry (replicated address book + waiter nonce). */
export interface ConfContext { address?: string; nonce: string }

export function encodeConfContext(c: ConfContext): Uint8Array {
  return Buffer.from(JSON.stringify(c));
}

/** The context of a ConfChange entry; undefined when absent or unreadable (the change still applies). */
export function decodeConfContext(context: Uint8Array | undefined): ConfContext | undefined {
  if (!context || context.length === 0) return undefined;
  try {
    return JSON.parse(Buffer.from(context).toString()) as ConfContext;
  } catch {
    return undefined;
  }
}

/** Waiter key of a restore entry: a retried entry shares its waiter with the first. */
export function restoreWaiterKey(c: Pick<RestoreCommand, 'restoreId' | 'op'> & { seq?: number }): string {
  return `${c.restoreId}\u0000${c.op}\u0000${c.seq ?? ''}`;
}

/** Waiter key of a write: its (clientId, requestId), the same key as the de-duplication table's. */
export function writeWaiterKey(clientId: string, requestId: string, fingerprint?: string): string {
  // The fingerprint too: a retry in flight with another body must not wait for (and be answered by) the first.
  return fingerprint ? `${clientId}\u0000${requestId}\u0000${fingerprint}` : `${clientId}\u0000${requestId}`;
}
