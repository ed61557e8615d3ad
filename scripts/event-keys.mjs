#!/usr/bin/env node
// The keys that sign change events (FLAGRAFT_EVENT_KEYS_FILE), shared by the
// consensus nodes (the active key signs) and the notification relays (every
// key verifies). Format and rotation: docs/CONTRACTS.md "Change event
// signatures".
//
//   node scripts/event-keys.mjs init <file>            a new file with one active key (refuses to overwrite)
//   node scripts/event-keys.mjs add <file> [id]        rotation step 1: a new key, accepted but not used to sign
//   node scripts/event-keys.mjs activate <file> <id>   rotation step 2: sign with it
//   node scripts/event-keys.mjs retire <file> <id>     rotation step 3: remove an old key (never the active one)
//   node scripts/event-keys.mjs list <file>            key ids and which one signs (never the secrets)
//
// Files are written aside and renamed over (readers never see half a file),
// mode 0600. Secrets are 32 random bytes, base64; nothing here prints them.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** Keys one file may hold (as @flagraft/auth's MAX_EVENT_KEYS). */
const MAX_KEYS = 16;

export class EventKeysError extends Error {}

export function newKeyId(now = new Date()) {
  return `k-${now.toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(3).toString('hex')}`;
}

function read(file) {
  let doc;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new EventKeysError(`${file}: cannot read a keys file (${err.code ?? 'not valid JSON'})`);
  }
  if (doc?.v !== 1 || !Array.isArray(doc.keys)) throw new EventKeysError(`${file}: not a keys file ({"v": 1, "active", "keys": [...]})`);
  return doc;
}

function write(file, doc) {
  writeFileSync(`${file}.tmp`, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

const newKey = (id) => ({ id, secret: randomBytes(32).toString('base64') });

/** Creates `file` with one active key unless it exists. Returns true if it made one. */
export function ensureEventKeysFile(file) {
  if (existsSync(file)) return false;
  const key = newKey(newKeyId());
  write(file, { v: 1, active: key.id, keys: [key] });
  return true;
}

export function addKey(file, id = newKeyId()) {
  if (!ID_RE.test(id)) throw new EventKeysError(`key id "${id}": 1-64 characters of A-Z a-z 0-9 _ -`);
  const doc = read(file);
  if (doc.keys.some((k) => k.id === id)) throw new EventKeysError(`${file}: key "${id}" exists already`);
  if (doc.keys.length >= MAX_KEYS) throw new EventKeysError(`${file}: already ${MAX_KEYS} keys; retire one first`);
  write(file, { ...doc, keys: [...doc.keys, newKey(id)] });
  return id;
}

export function activateKey(file, id) {
  const doc = read(file);
  if (!doc.keys.some((k) => k.id === id)) throw new EventKeysError(`${file}: no key "${id}" (add it first, and let every relay load it)`);
  write(file, { ...doc, active: id });
}

export function retireKey(file, id) {
  const doc = read(file);
  if (doc.active === id) throw new EventKeysError(`${file}: "${id}" is the active key; activate another one first`);
  if (!doc.keys.some((k) => k.id === id)) throw new EventKeysError(`${file}: no key "${id}"`);
  write(file, { ...doc, keys: doc.keys.filter((k) => k.id !== id) });
}

export function listKeys(file) {
  const doc = read(file);
  return doc.keys.map((k) => ({ id: k.id, active: k.id === doc.active }));
}

function main(argv) {
  const [cmd, file, id] = argv;
  const usage = 'usage: event-keys.mjs init|add|activate|retire|list <file> [key id]';
  if (!cmd || !file) throw new EventKeysError(usage);
  switch (cmd) {
    case 'init':
      if (!ensureEventKeysFile(file)) throw new EventKeysError(`${file} exists already (use add/activate/retire to rotate)`);
      console.log(`created ${file} (active key ${listKeys(file)[0].id})`);
      break;
    case 'add':
      console.log(`added key ${addKey(file, id)} (accepted, not signing yet): reload every relay and node before activating it`);
      break;
    case 'activate':
      if (!id) throw new EventKeysError(usage);
      activateKey(file, id);
      console.log(`nodes sign with ${id} once they reload the file`);
      break;
    case 'retire':
      if (!id) throw new EventKeysError(usage);
      retireKey(file, id);
      console.log(`removed ${id}: messages signed with it are refused once relays reload the file`);
      break;
    case 'list':
      for (const k of listKeys(file)) console.log(`${k.id}${k.active ? '  (active: signs)' : '  (accepted)'}`);
      break;
    default:
      throw new EventKeysError(usage);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof EventKeysError)) throw err;
    console.error(err.message);
    process.exit(1);
  }
}
