import { nodeServerAdapter } from '@builder.io/qwik-city/adapters/node-server/vite';
import { extendConfig } from '@builder.io/qwik-city/vite';
import baseConfig from '../../vite.config';

export default extendConfig(baseConfig, () => ({
  build: {
    ssr: true,
    rollupOptions: { input: ['src/entry.node-server.tsx', '@qwik-city-plan'] },
  },
  // Runtime dependencies stay external (installed next to the server);
  // everything else (qwik, qwik-city) is bundled.
  ssr: { external: ['undici', 'ws', '@flagraft/flag-model', '@flagraft/auth'] },
  plugins: [nodeServerAdapter({ name: 'node-server' })],
}));
