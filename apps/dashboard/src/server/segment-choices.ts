// The segment picker's data for a page loader: the segments and, for "used
// by", every flag from the dashboard's list index (list-cache.ts: no walk of
// the list when the index is current). Read with the user's token.
import type { RequestEventBase } from '@builder.io/qwik-city';
import { segmentChoices, type SegmentChoice } from '~/lib/segment-usage';
import { getConfig } from './config';
import { allFlags } from './list-cache';
import { gatewayFor } from './request';

/** The choices, or [] when the segments cannot be read (the editor still works; the rule's own segments stay shown). */
export async function loadSegmentChoices(ev: RequestEventBase): Promise<SegmentChoice[]> {
  const cfg = getConfig();
  const gw = gatewayFor(ev);
  try {
    const [segments, flags] = await Promise.all([gw.listSegments(), allFlags(gw, cfg.gatewayUrl, cfg.feedToken, cfg.gatewayTimeoutMs)]);
    return segmentChoices(segments, flags.flags);
  } catch {
    return [];
  }
}
