// /api/v1/segments: reusable condition sets referenced by flag rules. Their
// routes are the item routes (items.ts) over SEGMENT_KIND.
import { SEGMENT_KIND } from '@flagraft/flag-model';
import type { RouteContext, Routes } from './context.js';
import { registerItemRoutes } from './items.js';

export function registerSegmentRoutes(r: Routes, ctx: RouteContext): void {
  registerItemRoutes(r, ctx, SEGMENT_KIND);
}
