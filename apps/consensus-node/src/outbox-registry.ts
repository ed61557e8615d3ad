// The SNS outbox lives in src/outbox/ (owned by the notifications work). It is
// loaded dynamically so the node builds and runs without it; tests and
// embedders may also register a factory directly.
import type { Outbox, SnsOutboxConfig } from './outbox-types.js';

export type OutboxFactory = (config: SnsOutboxConfig) => Outbox;

let registered: OutboxFactory | undefined;

export function registerOutboxFactory(f: OutboxFactory): void {
  registered = f;
}

export async function loadOutboxFactory(): Promise<OutboxFactory | undefined> {
  if (registered) return registered;
  for (const spec of ['./outbox/index.js', './outbox/sns-outbox.js']) {
    try {
      const mod = (await import(spec)) as { createSnsOutbox?: OutboxFactory };
      if (typeof mod.createSnsOutbox === 'function') return mod.createSnsOutbox;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw e;
    }
  }
  return undefined;
}
