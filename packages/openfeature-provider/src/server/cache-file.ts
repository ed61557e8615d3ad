// The optional persistent cache: the last synced snapshot in a file, so a
// restarting service evaluates its last known flags before (or without)
// reaching the gateway. Written atomically (temporary file, then rename), after
// changes settle (debounced), and refused on read when it was written for
// another gateway URL or prefix.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Snapshot } from './store.js';

const FORMAT = 'flagraft-provider-cache';

interface CacheDocument extends Snapshot {
  format: typeof FORMAT;
  v: 1;
  /** What the snapshot is of: gateway URL and prefix. */
  source: string;
  savedAt: string;
}

export function cacheSource(url: string, prefix: string | undefined, environment?: string): string {
  // The default environment keeps the old form: caches written before environments stay valid.
  return environment === undefined ? `${url}|${prefix ?? ''}` : `${url}|${prefix ?? ''}|${environment}`;
}

/** The cached snapshot, or undefined when there is none or it does not fit (reason given). */
export async function readCache(file: string, source: string, maxBytes: number): Promise<{ snapshot?: Snapshot; problem?: string }> {
  let text: string;
  try {
    const buf = await readFile(file);
    if (buf.length > maxBytes) return { problem: `${file} is larger than maxSnapshotBytes` };
    text = buf.toString('utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? {} : { problem: `cannot read ${file}: ${code ?? (err as Error).message}` };
  }
  try {
    const doc = JSON.parse(text) as CacheDocument;
    if (doc?.format !== FORMAT || doc.v !== 1 || !Array.isArray(doc.flags) || !Array.isArray(doc.segments) || !Number.isSafeInteger(doc.revision)) {
      return { problem: `${file} is not a flagraft provider cache` };
    }
    if (doc.source !== source) return { problem: `${file} was written for ${doc.source.split('|')[0]}, not this gateway/prefix` };
    return { snapshot: { revision: doc.revision, flags: doc.flags, segments: doc.segments } };
  } catch (err) {
    return { problem: `${file} is not valid JSON (${(err as Error).message})` };
  }
}

export async function writeCache(file: string, source: string, snapshot: Snapshot): Promise<void> {
  const doc: CacheDocument = { format: FORMAT, v: 1, source, savedAt: new Date().toISOString(), ...snapshot };
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(doc));
  await rename(tmp, file);
}
