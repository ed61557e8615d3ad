import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CounterFamily, HistogramFamily, OVERFLOW_LABEL_VALUE } from './metric-families.js';

const BUCKETS = [0.001, 0.01, 0.1];

describe('metric families', () => {
  it('expose exactly what prom-client Counter and Histogram expose for the same observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const c1 = new CounterFamily({ name: 'x_total', help: 'h', labelNames: ['method', 'status'] }).register(ours);
    const h1 = new HistogramFamily({ name: 'x_seconds', help: 'h', labelNames: ['method', 'status'], buckets: BUCKETS }).register(ours);
    const c2 = new Counter({ name: 'x_total', help: 'h', labelNames: ['method', 'status'], registers: [theirs] });
    const h2 = new Histogram({ name: 'x_seconds', help: 'h', labelNames: ['method', 'status'], buckets: BUCKETS, registers: [theirs] });
    const observations: [string, string, number][] = [
      ['GET', '200', 0.0005],
      ['GET', '200', 0.001], // on a bound: counted in that bucket (le is "less or equal")
      ['GET', '200', 0.05],
      ['POST', '404', 3],
      ['GET', '200', 0.2],
    ];
    for (const [method, status, v] of observations) {
      c1.child(method, status).value++;
      h1.child(method, status).observe(v);
      c2.inc({ method, status });
      h2.observe({ method, status }, v);
    }
    // Same lines, whatever the order of labels within a line.
    const norm = (text: string) =>
      text
        .split('\n')
        .filter(Boolean)
        .map((line) => line.replace(/\{([^}]*)\}/, (_m, inner: string) => '{' + inner.split(',').sort().join(',') + '}'))
        .sort();
    expect(norm(await ours.metrics())).toEqual(norm(await theirs.metrics()));
    expect(await ours.metrics()).toContain('x_seconds_bucket{method="GET",status="200",le="0.001"} 2');
    expect(await ours.metrics()).toContain('x_seconds_bucket{method="GET",status="200",le="+Inf"} 4');
  });

  it('return the same child for the same labels and escape label values in the output', async () => {
    const reg = new Registry();
    const c = new CounterFamily({ name: 'e_total', help: 'h', labelNames: ['flag'] }).register(reg);
    expect(c.child('a')).toBe(c.child('a'));
    c.child('quote"back\\slash\nnewline').value += 2;
    expect(await reg.metrics()).toContain('e_total{flag="quote\\"back\\\\slash\\nnewline"} 2');
  });

  it('fold label sets beyond the limit into one overflow child instead of growing', () => {
    const c = new CounterFamily({ name: 'o_total', help: 'h', labelNames: ['flag', 'reason'], maxLabelSets: 3 });
    for (let i = 0; i < 10; i++) c.child(`f${i}`, 'STATIC').value++;
    const values = c.get().values;
    expect(values).toHaveLength(4);
    expect(values.find((v) => v.labels.flag === OVERFLOW_LABEL_VALUE)).toMatchObject({ labels: { reason: OVERFLOW_LABEL_VALUE }, value: 7 });
  });

  it('reset (registry.resetMetrics) empties the family', async () => {
    const reg = new Registry();
    const h = new HistogramFamily({ name: 'r_seconds', help: 'h', labelNames: ['a'], buckets: BUCKETS }).register(reg);
    h.child('x').observe(1);
    reg.resetMetrics();
    expect(h.get().values).toEqual([]);
  });

  it('refuse bad definitions and label counts with a clear error', () => {
    expect(() => new HistogramFamily({ name: 'b', help: 'h', labelNames: [], buckets: [] })).toThrow(/buckets must be distinct finite numbers/);
    expect(() => new HistogramFamily({ name: 'b', help: 'h', labelNames: [], buckets: [1, 1] })).toThrow(/distinct/);
    const c = new CounterFamily({ name: 'n_total', help: 'h', labelNames: ['a', 'b'] });
    expect(() => c.child('only-one')).toThrow(/n_total: expected 2 label values, got 1/);
  });
});
