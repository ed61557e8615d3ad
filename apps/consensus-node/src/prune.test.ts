import { describe, expect, it } from 'vitest';
import { changesPruneBelow, OUTBOX_HOLD_FACTOR } from './retention.js';

describe('changes pruning', () => {
  it('keeps the retention window when no outbox has published', () => {
    expect(changesPruneBelow(50_000, 20_000, 0)).toBe(30_000);
  });

  it('keeps changes SNS has not acknowledged yet', () => {
    expect(changesPruneBelow(50_000, 20_000, 12_000)).toBe(12_000);
  });

  it('prunes by retention once everything older is published', () => {
    expect(changesPruneBelow(50_000, 20_000, 49_000)).toBe(30_000);
  });

  it('stays bounded during a very long outage', () => {
    const index = 1_000_000;
    expect(changesPruneBelow(index, 20_000, 5)).toBe(index - 20_000 * OUTBOX_HOLD_FACTOR);
  });
});
