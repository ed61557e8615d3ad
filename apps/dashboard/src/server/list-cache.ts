// The full flag list for the list page. It comes from the dashboard's index
// (flag-index.ts), kept current from the gateway's change stream
// (flag-feed.ts), so a load after a change does not walk 10,000 flags.
//
// Each request first reads a 1-flag stale page WITH THE USER'S TOKEN: the
// gateway checks the user's authorisation, and the page's revision is where
// the gateway's replica stands right now. The index is used only once it has
// applied every change up to that revision and up to the last write made
// through this dashboard, so a list is never older than the gateway at
// request time (a colleague's change is in it) and an operator always sees
// their own save (read-your-writes). If the index cannot get there within
// FEED_CATCHUP_MS (stream down, a reset being reloaded), the request walks
// the list itself as before: slower, never stale.
import type { StoredFlag } from '~/lib/types';
import type { GatewayClient } from './gateway';
import { feedFor } from './flag-feed';
import { lastWriteRevision } from './write-marks';

/** How long a list request waits for the index to catch up with the gateway, in ms. */
export const FEED_CATCHUP_MS = 1_500;

export interface ListResult {
  flags: StoredFlag[];
  revision: number;
  /** 'index': the dashboard's live copy; 'walk': every page read for this request. */
  source: 'index' | 'walk';
}

/**
 * `feedToken` is the dashboard's own token for the change stream (config
 * FLAGRAFT_DASHBOARD_FEED_TOKEN); without it every load walks the list. A
 * user's token is never used for the stream: it would outlive their session.
 */
export async function allFlags(gw: GatewayClient, gatewayUrl: string, feedToken: string | undefined, timeoutMs: number): Promise<ListResult> {
  // The user's own authorisation, checked on every load.
  const head = await gw.listFlagsPage({ limit: 1, stale: true });
  if (feedToken !== undefined && head.revision !== undefined) {
    const feed = feedFor(gatewayUrl, timeoutMs);
    feed.use(feedToken);
    const want = Math.max(head.revision, lastWriteRevision());
    // The first load after start waits for the feed's own walk instead of walking twice.
    const wait = feed.state === 'loading' || feed.state === 'idle' ? timeoutMs : FEED_CATCHUP_MS;
    if (await feed.waitFor(want, wait)) {
      return { flags: feed.index.sorted(), revision: feed.index.revision, source: 'index' };
    }
  }
  const all = await gw.listAllFlags({ stale: true });
  return { flags: all.flags, revision: Math.max(all.revision, head.revision ?? 0), source: 'walk' };
}
