// GET /api/v1/me: who the caller's token is. Tools need the name the audit
// trail records for their writes ("my change requests") and what the token
// may do, without reading the tokens file (which holds only hashes anyway).
import { PERMISSIONS, roleAllows } from '@flagraft/auth';
import type { Routes } from './context.js';

export function registerMeRoutes(r: Routes): void {
  // 'evaluate': every role has it, so any valid token may ask; 'own': no
  // environment to check (an environment-limited token learns its own list).
  r.add('get', '/api/v1/me', 'evaluate', async (_req, res, who) => {
    res.json({
      name: who.name,
      role: who.role,
      ...(who.environments ? { environments: [...who.environments] } : {}),
      permissions: PERMISSIONS.filter((p) => roleAllows(who.role, p)),
    });
  }, { scope: 'own' });
}
