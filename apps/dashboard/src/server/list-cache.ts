// One shared copy of the full flag list, revalidated on every use by the
// revision the gateway reports. Walking 10,000 flags costs ten 1,000-flag
// pages; asking for one flag costs little. So each list request first reads
// a 1-flag page WITH THE USER'S TOKEN (authorisation is still checked per
// request) and reuses the copy only when the revision is unchanged.
import type { StoredFlag } from '~/lib/types';
import type { GatewayClient } from './gateway';

/** Largest list kept in memory, in flags (beyond it every request walks the pages). */
export const LIST_CACHE_MAX_FLAGS = 200_000;

interface Entry {
  gatewayUrl: string;
  revision: number;
  flags: StoredFlag[];
}
let entry: Entry | undefined;

export interface ListResult {
  flags: StoredFlag[];
  revision: number;
  cached: boolean;
}

export async function allFlags(gw: GatewayClient, gatewayUrl: string): Promise<ListResult> {
  const head = await gw.listFlagsPage({ limit: 1, stale: true });
  if (head.revision !== undefined && entry && entry.gatewayUrl === gatewayUrl && entry.revision === head.revision) {
    return { flags: entry.flags, revision: entry.revision, cached: true };
  }
  const all = await gw.listAllFlags({ stale: true });
  // Key the copy by the revision seen BEFORE the walk: if a write lands
  // during it, the next request sees a newer revision and walks again.
  if (head.revision !== undefined && all.flags.length <= LIST_CACHE_MAX_FLAGS) {
    entry = { gatewayUrl, revision: head.revision, flags: all.flags };
  }
  return { flags: all.flags, revision: Math.max(all.revision, head.revision ?? 0), cached: false };
}
