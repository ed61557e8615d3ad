// Counters and histograms for the per-request hot path, exposed through a
// prom-client Registry.
//
// prom-client's labelled metrics hash and validate the label object on every
// inc()/observe(), even through labels() children (they only pre-bind the
// object). At tens of thousands of requests per second that was a visible
// share of an evaluation's cost. Here a label set is resolved once to a child
// that holds plain numbers; recording is an add. The registry reads the
// children when /metrics is scraped (registerMetric with get()), producing
// the same exposition format prom-client's own Counter and Histogram do.
import type { Registry } from 'prom-client';

/** Distinct label sets per metric family; beyond it, new sets are folded into one "_other" child (label sets). */
export const MAX_LABEL_SETS_PER_METRIC = 10_000;
/** The label value used for every label of the overflow child. */
export const OVERFLOW_LABEL_VALUE = '_other';

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

interface MetricData {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: MetricValue[];
  aggregator: 'sum';
}

abstract class Family<C> {
  protected readonly children = new Map<string, { labels: Record<string, string>; child: C }>();
  private overflow: C | undefined;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    private readonly maxLabelSets: number,
  ) {}

  /** The child for these label values (in labelNames order). Resolve once and keep it where possible. */
  child(...values: string[]): C {
    const id = values.length === 1 ? values[0] : values.join('\u0000');
    const found = this.children.get(id);
    if (found) return found.child;
    if (this.children.size >= this.maxLabelSets) {
      // Bounded memory: an unbounded label (a bug or an attack) must not grow the registry forever.
      this.overflow ??= this.add(this.labelNames.map(() => OVERFLOW_LABEL_VALUE), '\u0001overflow');
      return this.overflow;
    }
    return this.add(values, id);
  }

  private add(values: readonly string[], id: string): C {
    if (values.length !== this.labelNames.length) {
      throw new Error(`${this.name}: expected ${this.labelNames.length} label values, got ${values.length}`);
    }
    const labels: Record<string, string> = {};
    this.labelNames.forEach((n, i) => (labels[n] = values[i]));
    const child = this.create();
    this.children.set(id, { labels, child });
    return child;
  }

  protected abstract create(): C;
  abstract get(): MetricData;

  /** prom-client's Registry.resetMetrics() calls this. */
  reset(): void {
    this.children.clear();
    this.overflow = undefined;
  }

  /** Makes the family part of registry.metrics(). */
  register(registry: Registry): this {
    registry.registerMetric(this as never);
    return this;
  }
}

export interface CounterChild {
  value: number;
}

export class CounterFamily extends Family<CounterChild> {
  readonly type = 'counter';
  constructor(opts: { name: string; help: string; labelNames: readonly string[]; maxLabelSets?: number }) {
    super(opts.name, opts.help, opts.labelNames, opts.maxLabelSets ?? MAX_LABEL_SETS_PER_METRIC);
  }
  protected create(): CounterChild {
    return { value: 0 };
  }
  get(): MetricData {
    const values: MetricValue[] = [];
    for (const { labels, child } of this.children.values()) values.push({ labels, value: child.value });
    return { name: this.name, help: this.help, type: 'counter', values, aggregator: 'sum' };
  }
}

export class HistogramChild {
  count = 0;
  sum = 0;
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    this.counts[i]++;
    this.count++;
    this.sum += value;
  }
}

export class HistogramFamily extends Family<HistogramChild> {
  readonly type = 'histogram';
  readonly buckets: readonly number[];
  constructor(opts: { name: string; help: string; labelNames: readonly string[]; buckets: readonly number[]; maxLabelSets?: number }) {
    super(opts.name, opts.help, opts.labelNames, opts.maxLabelSets ?? MAX_LABEL_SETS_PER_METRIC);
    const sorted = [...opts.buckets].sort((a, b) => a - b);
    if (sorted.length === 0 || sorted.some((b, i) => !Number.isFinite(b) || (i > 0 && b === sorted[i - 1]))) {
      throw new Error(`${opts.name}: buckets must be distinct finite numbers`);
    }
    this.buckets = sorted;
  }
  protected create(): HistogramChild {
    return new HistogramChild(this.buckets);
  }
  get(): MetricData {
    const values: MetricValue[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const { labels, child } of this.children.values()) {
      let acc = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        acc += child.counts[i];
        values.push({ labels: { ...labels, le: this.buckets[i] }, value: acc, metricName: bucketName });
      }
      values.push({ labels: { ...labels, le: '+Inf' }, value: child.count, metricName: bucketName });
      values.push({ labels, value: child.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: child.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }
}
