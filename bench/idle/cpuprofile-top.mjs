#!/usr/bin/env node
// Top functions of .cpuprofile files by self time (samples), summed over the
// files given (e.g. the three nodes of bench/idle/idle-cpu.mjs --cpu-prof DIR).
//   node bench/idle/cpuprofile-top.mjs DIR/*.cpuprofile [--top 25]
import { readFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const ti = argv.indexOf('--top');
const top = ti >= 0 ? Number(argv.splice(ti, 2)[1]) : 25;
const self = new Map();
let totalUs = 0;
for (const file of argv) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const dt = p.timeDeltas;
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]);
    const us = dt[i + 1] ?? 0;
    totalUs += us;
    const cf = n.callFrame;
    const where = cf.url ? `${cf.url.replace(/^.*\/(node_modules|apps|packages)\//, '$1/')}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName || '(anonymous)'} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + us);
  }
}
const rows = [...self].sort((a, b) => b[1] - a[1]);
const idle = self.get('(idle)') ?? 0;
console.log(`profiles: ${argv.length}, sampled ${(totalUs / 1e6).toFixed(1)} s, not idle ${((totalUs - idle) / 1e6).toFixed(2)} s`);
console.log('self ms   % of busy  function');
for (const [k, us] of rows.filter(([k]) => k !== '(idle)').slice(0, top)) {
  console.log(`${(us / 1000).toFixed(0).padStart(7)}  ${(((us) / (totalUs - idle)) * 100).toFixed(1).padStart(8)}%  ${k}`);
}
