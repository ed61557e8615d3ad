import { describe, expect, it } from 'vitest';
import type { StoredFlag, StoredSegment } from './types';
import { MAX_USED_BY_SHOWN, segmentChoices } from './segment-usage';

const seg = (name: string, description?: string) => ({ segment: { name, description, conditions: [] }, modRevision: 1, version: 1 }) as unknown as StoredSegment;
const flag = (key: string, rules: { segments?: string[]; excludeSegments?: string[] }[]) =>
  ({ flag: { key, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'on', enabled: true, rules: rules.map((r) => ({ conditions: [], variant: 'on', ...r })) }, modRevision: 1, version: 1 }) as unknown as StoredFlag;

describe('segmentChoices', () => {
  it('lists every segment by name with the flags that include or exclude it', () => {
    const out = segmentChoices(
      [seg('staff', 'Employees'), seg('beta'), seg('constructor')],
      [flag('b-flag', [{ segments: ['beta'] }]), flag('a-flag', [{ excludeSegments: ['beta'] }, { segments: ['beta', 'staff'] }]), flag('plain', [])],
    );
    expect(out).toEqual([
      { name: 'beta', description: '', usedBy: ['a-flag', 'b-flag'], usedByCount: 2 },
      { name: 'constructor', description: '', usedBy: [], usedByCount: 0 },
      { name: 'staff', description: 'Employees', usedBy: ['a-flag'], usedByCount: 1 },
    ]);
  });
  it('names at most MAX_USED_BY_SHOWN flags and counts the rest', () => {
    const flags = Array.from({ length: MAX_USED_BY_SHOWN + 3 }, (_, i) => flag(`f${i}`, [{ segments: ['s'] }]));
    const [c] = segmentChoices([seg('s')], flags);
    expect(c.usedBy).toHaveLength(MAX_USED_BY_SHOWN);
    expect(c.usedByCount).toBe(MAX_USED_BY_SHOWN + 3);
  });
  it('ignores references to segments that do not exist', () => {
    expect(segmentChoices([seg('s')], [flag('f', [{ segments: ['gone'] }])])).toEqual([{ name: 's', description: '', usedBy: [], usedByCount: 0 }]);
  });
});
