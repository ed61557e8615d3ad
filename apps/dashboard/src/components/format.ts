// Small display helpers shared by pages (pure, run on server and client).
export function when(ms: number | string | undefined): string {
  if (ms === undefined || ms === null || ms === '') return '—';
  const d = new Date(typeof ms === 'number' ? ms : Date.parse(ms));
  if (Number.isNaN(d.getTime())) return String(ms);
  return d.toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

export function plural(n: number, one: string, many = one + 's'): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}
