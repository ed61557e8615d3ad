// The `changes` query (QueryRequest, proto/flags.proto): the global audit
// log, every retained change of every kind, newest first, filtered and paged.
// The gateway serves it as GET /api/v1/changes. Arguments are flag-model's
// parseAuditArgs (the in-memory cluster takes the same); a bad one is
// INVALID_ARGUMENT naming it.
import { auditCursor, parseAuditArgs } from '@flagraft/flag-model';
import { ApiError } from './errors.js';
import type { StateMachine } from './state-machine.js';

export function auditQuery(state: StateMachine, args: Record<string, unknown>) {
  const filter = parseAuditArgs(args);
  if (typeof filter === 'string') throw ApiError.of('INVALID_ARGUMENT', filter);
  const page = state.auditLog(filter);
  return {
    changes: page.changes,
    nextPageToken: page.next ? auditCursor(page.next.revision, page.next.seq) : undefined,
    // The default environment's flag changes carry no name: the reader needs it to show one.
    defaultEnvironment: state.view.defaultEnvironment(),
  };
}
