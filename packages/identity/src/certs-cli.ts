// `flagraft certs ...`: the command that creates, issues and rotates a
// cluster's certificates in a folder (layout in pki-dir.ts). The same
// function backs `flagraft certs` (apps/cli), `node dist/certs.js` in the
// consensus-node image (the compose and Kubernetes cert jobs) and the launcher.
import { parseArgs } from 'node:util';
import { IdentityError, isServiceRole, SERVICE_ROLES, type Identity, type ServiceRole } from './identity.js';
import { dropOldCas, initPki, issueInto, listPki, readClusterId, rotateCa, rotateLeaves, DEFAULT_NODE_HOSTS } from './pki-dir.js';
import { TlsConfigError } from './tls-files.js';

export interface CertsIo {
  env: Record<string, string | undefined>;
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

/** Node ids given to `certs init --nodes` (count). */
export const MAX_INIT_NODES = 100;

export const CERTS_USAGE = `Usage: flagraft certs <command> --dir <folder> [options]   (--dir defaults to $FLAGRAFT_PKI_DIR)

  init [--cluster-id ID] [--nodes 3|1,2,3] [--service ROLE:NAME]... [--host H]... [--days N] [--if-missing]
        a new cluster CA (and a new random cluster id unless given), and certificates for
        nodes and services; --if-missing keeps an existing folder and adds what is missing
  issue node ID | ROLE NAME [--host H]... [--days N] [--force]
        one certificate (ROLE: ${SERVICE_ROLES.join(', ')}); --host adds DNS names / IPs (nodes)
  rotate [--only NAME]... [--days N]
        new keys and certificates for every identity (or the named ones), same CA
  rotate-ca      step 1 of a CA rotation: a new signing CA, trusted beside the old one
  drop-old-ca    step 3: trust only the new CA (after \`rotate\` re-issued everything)
  list           identities, expiry, and whether each is from the current CA

Running processes reload their certificates on SIGHUP or within FLAGRAFT_TLS_RELOAD_INTERVAL_MS.
A CA rotation: rotate-ca, wait until every process reloaded, rotate, wait again, drop-old-ca.
`;

class UsageError extends Error {}

function parseNodes(s: string): number[] {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n < 1 || n > MAX_INIT_NODES) throw new UsageError(`--nodes ${s}: between 1 and ${MAX_INIT_NODES}`);
    return Array.from({ length: n }, (_, i) => i + 1);
  }
  const ids = s.split(',').map((p) => p.trim()).filter(Boolean).map(Number);
  if (!ids.length || ids.some((n) => !Number.isSafeInteger(n) || n < 1) || ids.length > MAX_INIT_NODES) throw new UsageError(`--nodes ${JSON.stringify(s)}: a count or a comma-separated list of positive node ids`);
  return ids;
}

function parseService(s: string): { role: ServiceRole; name: string } {
  const i = s.indexOf(':');
  const role = i > 0 ? s.slice(0, i) : '';
  if (!isServiceRole(role)) throw new UsageError(`--service ${JSON.stringify(s)}: ROLE:NAME with ROLE one of ${SERVICE_ROLES.join(', ')}`);
  return { role, name: s.slice(i + 1) };
}

function days(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--days ${JSON.stringify(v)}: a whole number of days`);
  return Number(v);
}

export async function runCertsCommand(argv: string[], io: CertsIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        dir: { type: 'string' }, 'cluster-id': { type: 'string' }, nodes: { type: 'string' },
        service: { type: 'string', multiple: true }, host: { type: 'string', multiple: true },
        days: { type: 'string' }, 'if-missing': { type: 'boolean' }, force: { type: 'boolean' },
        only: { type: 'string', multiple: true }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    io.stderr.write(`flagraft certs: ${(e as Error).message}\n${CERTS_USAGE}`);
    return 2;
  }
  const { values: o, positionals } = parsed;
  const [cmd, ...args] = positionals;
  if (o.help || !cmd) {
    (cmd ? io.stdout : io.stderr).write(CERTS_USAGE);
    return o.help ? 0 : 2;
  }
  const dir = o.dir ?? io.env.FLAGRAFT_PKI_DIR;
  const out = (s: string) => io.stdout.write(s);
  try {
    if (!dir) throw new UsageError('--dir <folder> is required (or FLAGRAFT_PKI_DIR)');
    const arity = (n: number) => { if (args.length !== n) throw new UsageError(`certs ${cmd} takes ${n === 0 ? 'no' : n} argument(s), got ${args.length}`); };
    switch (cmd) {
      case 'init': {
        arity(0);
        const r = await initPki(dir, {
          clusterId: o['cluster-id'], nodes: o.nodes ? parseNodes(o.nodes) : [], services: (o.service ?? []).map(parseService),
          hosts: o.host ?? DEFAULT_NODE_HOSTS, validityDays: days(o.days), ifMissing: !!o['if-missing'],
        });
        out(o.json ? JSON.stringify(r) + '\n'
          : `${r.created ? 'created' : 'kept'} the PKI of cluster ${r.clusterId} in ${dir}\n${r.issued.length ? `issued: ${r.issued.join(', ')}\n` : 'nothing new to issue\n'}`);
        return 0;
      }
      case 'issue': {
        const clusterId = readClusterId(dir);
        let id: Identity;
        if (args[0] === 'node') {
          arity(2);
          if (!/^[1-9]\d*$/.test(args[1])) throw new UsageError(`node id ${JSON.stringify(args[1])} must be a positive integer`);
          id = { kind: 'node', clusterId, nodeId: Number(args[1]) };
        } else {
          arity(2);
          if (!isServiceRole(args[0])) throw new UsageError(`certs issue node ID | ROLE NAME, with ROLE one of ${SERVICE_ROLES.join(', ')}; got ${JSON.stringify(args[0])}`);
          id = { kind: 'service', clusterId, role: args[0], name: args[1] };
        }
        const files = await issueInto(dir, id, { hosts: o.host ?? (id.kind === 'node' ? DEFAULT_NODE_HOSTS : []), validityDays: days(o.days), overwrite: !!o.force });
        out(o.json ? JSON.stringify(files) + '\n' : `issued ${files.certFile} (key ${files.keyFile})\n`);
        return 0;
      }
      case 'rotate': {
        arity(0);
        const done = await rotateLeaves(dir, { validityDays: days(o.days), only: o.only });
        out(o.json ? JSON.stringify({ rotated: done }) + '\n' : `re-issued ${done.length} certificate(s): ${done.join(', ') || '-'}\nrunning processes pick them up on SIGHUP or at their next file check\n`);
        return 0;
      }
      case 'rotate-ca': {
        arity(0);
        await rotateCa(dir);
        out(o.json ? '{"ok":true}\n' : `new signing CA added to ${dir}/ca.crt (the old one is still trusted)\nnext: wait until every process reloaded, then \`certs rotate\`, wait again, then \`certs drop-old-ca\`\n`);
        return 0;
      }
      case 'drop-old-ca': {
        arity(0);
        const n = dropOldCas(dir);
        out(o.json ? JSON.stringify({ dropped: n }) + '\n' : `${n} old CA certificate(s) no longer trusted\n`);
        return 0;
      }
      case 'list': {
        arity(0);
        const rows = listPki(dir);
        if (o.json) { out(JSON.stringify(rows.map((r) => ({ ...r, notAfter: r.notAfter.toISOString() }))) + '\n'); return 0; }
        out(`cluster ${readClusterId(dir)}\n`);
        for (const r of rows) out(`${r.name.padEnd(28)} until ${r.notAfter.toISOString().slice(0, 10)}${r.currentCa ? '' : '  (old CA: run certs rotate)'}\n`);
        return 0;
      }
      default:
        throw new UsageError(`unknown certs command ${JSON.stringify(cmd)}`);
    }
  } catch (e) {
    if (e instanceof UsageError) { io.stderr.write(`flagraft certs: ${e.message}\n${CERTS_USAGE}`); return 2; }
    if (e instanceof IdentityError || e instanceof TlsConfigError) { io.stderr.write(`flagraft certs: ${e.message}\n`); return 1; }
    io.stderr.write(`flagraft certs: ${(e as Error).message ?? e}\n`);
    return 1;
  }
}
