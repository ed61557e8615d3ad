// `node dist/certs.js <init|issue|rotate|...>`: the `flagraft certs` command
// inside the consensus-node image, for the compose and Kubernetes jobs that
// make a cluster's certificates (packages/identity/README.md).
import { runCertsCommand } from '@flagraft/identity';

process.exitCode = await runCertsCommand(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr });
