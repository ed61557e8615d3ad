// DEVELOPMENT AID ONLY: the real gateway over testkit's in-memory cluster
// (the same answers as a real one, without processes), plus the built
// dashboard, seeded with N flags. `node --import tsx dev/dev-gateway.ts [N]`.
import { createTokenStore, hashToken } from '@flagraft/auth';
import { createGateway } from '@flagraft/gateway';
import { createMemoryCluster } from '@flagraft/testkit';
import { startDashboard, TOKENS, NAMES } from '../test/stack';

const n = Number(process.argv[2] ?? 30);
const cluster = createMemoryCluster();
const entries = (Object.keys(TOKENS) as (keyof typeof TOKENS)[]).map((k) => ({
  name: NAMES[k],
  role: (k === 'editor2' ? 'editor' : k) as 'admin' | 'editor' | 'reader',
  sha256: hashToken(TOKENS[k]),
}));
await cluster.putSegment({ name: 'staff', description: 'Employees', conditions: [{ attribute: 'email', op: 'endsWith', value: '@example.com' }] }, { actor: 'ada' });
for (let i = 0; i < n; i++) {
  await cluster.putFlag(
    {
      key: `feature-${String(i).padStart(5, '0')}`,
      type: i % 4 === 0 ? 'string' : 'boolean',
      variants: i % 4 === 0 ? { control: 'a', treatment: 'b' } : { on: true, off: false },
      defaultVariant: i % 4 === 0 ? 'control' : 'off',
      enabled: i % 3 !== 0,
      rules: [],
      tags: [i % 2 ? 'checkout' : 'search', `team-${i % 5}`],
      description: i % 7 === 0 ? `Seeded flag number ${i}` : undefined,
    },
    { actor: 'seed' },
  );
}
const gateway = createGateway({ host: '127.0.0.1', port: 0, cluster: cluster as never, tokens: createTokenStore(entries), logLevel: 'warn', accessLog: 'errors' });
await gateway.start();
const dash = await startDashboard({ gatewayUrl: gateway.url(), relayUrl: 'http://127.0.0.1:9', say: (m) => process.stderr.write(m + '\n') });
process.stdout.write(JSON.stringify({ dashboard: dash.url, gateway: gateway.url(), tokens: TOKENS }, null, 2) + '\n');
const stop = async () => {
  await dash.stop();
  await gateway.close();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
