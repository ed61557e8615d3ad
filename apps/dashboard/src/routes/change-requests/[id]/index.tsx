import { component$ } from '@builder.io/qwik';
import { Form, Link, routeLoader$, useLocation, type DocumentHead } from '@builder.io/qwik-city';
import { DiffTable } from '~/components/diff-table';
import { when } from '~/components/format';
import { useRecordLive } from '~/components/record-live';
import { approvalsText, opViews, statusLabel, whyCannotApprove } from '~/lib/change-request-view';
import { userKey } from '~/lib/jsx-key';
import { useChangeRequestStep, MAX_COMMENT_CHARS } from '~/server/change-requests';
import { environmentView } from '~/server/environments';
import { GatewayError } from '~/server/gateway';
import { gatewayFor, problemOf, requireSession } from '~/server/request';

export { useChangeRequestStep };

function pretty(v: unknown): string {
  return v === null || v === undefined ? '(absent)' : JSON.stringify(v, null, 2);
}

export const useChangeRequest = routeLoader$(async (ev) => {
  const id = ev.params.id;
  try {
    const me = requireSession(ev);
    const [stored, envs] = await Promise.all([gatewayFor(ev).api.getChangeRequest(id), environmentView(ev)]);
    const c = stored.changeRequest;
    const policy = envs.environments.find((e) => e.name === c.env);
    const mine = c.author === me.name;
    return {
      ok: true as const,
      id,
      title: c.title,
      description: c.description ?? '',
      env: c.env,
      author: c.author,
      status: c.status,
      mine,
      canEdit: me.role !== 'reader',
      approvals: approvalsText(stored, policy),
      cannotApprove: whyCannotApprove(stored, policy, me) ?? '',
      ops: opViews(stored),
      events: [
        ...c.approvals.map((e) => ({ ...e, what: 'approved' })),
        ...c.rejections.map((e) => ({ ...e, what: 'rejected' })),
        ...c.comments.map((e) => ({ ...e, what: 'commented' })),
      ].sort((a, b) => a.time - b.time),
      conflicts: (c.conflicts ?? []).map((x) => ({
        key: `${x.kind} ${x.key}`,
        base: `revision ${x.revision}\n${pretty(x.item)}`,
        current: `revision ${x.currentRevision}\n${pretty(x.current)}`,
        proposed: pretty(x.proposed),
      })),
      applyError: c.applyError ?? '',
      appliedRevision: c.appliedRevision ?? 0,
      updatedAt: stored.updatedAt,
      updatedBy: stored.updatedBy,
    };
  } catch (err) {
    if (err instanceof GatewayError && err.status === 404) ev.status(404);
    return { ok: false as const, id, error: problemOf(err).message };
  }
});

export default component$(() => {
  const data = useChangeRequest();
  const step = useChangeRequestStep();
  const live = useRecordLive('changeRequest');
  const loc = useLocation();
  const v = data.value;
  if (!v.ok) {
    return (
      <section>
        <h1>Change request {v.id}</h1>
        <p class="notice bad" role="alert">
          {v.error}
        </p>
        <Link href="/change-requests">All change requests</Link>
      </section>
    );
  }
  const failed = step.value?.failed ? (step.value as { message?: string }).message : undefined;
  const open = v.status === 'draft' || v.status === 'inReview' || v.status === 'approved' || v.status === 'conflicted';
  return (
    <section aria-labelledby="cr-title" data-status={v.status} data-testid="cr-page">
      <div class="page-head">
        <h1 id="cr-title">{v.title}</h1>
        <span class="badge" data-testid="cr-status">
          {statusLabel(v.status)}
        </span>
        <span class="muted small">
          {v.id} · {v.env} · by {v.author} · last change by {v.updatedBy}, {when(v.updatedAt)}
        </span>
        <span class="muted small" data-testid="cr-live" data-state={live.state.value} data-events={live.events.value}>
          {live.state.value === 'live' ? 'updates live' : ''}
        </span>
        <div class="actions">
          <Link href="/change-requests">All change requests</Link>
        </div>
      </div>
      {loc.url.searchParams.get('created') && (
        <p class="notice ok" role="status">
          Change request created and submitted for review.
        </p>
      )}
      {v.description && <p>{v.description}</p>}
      <p>
        <strong data-testid="cr-approvals">{v.approvals}</strong>
        {v.appliedRevision > 0 && <span> · applied at revision {v.appliedRevision}</span>}
      </p>
      {v.cannotApprove && v.status === 'inReview' && (
        <p class="notice warn" role="note" data-testid="cr-cannot-approve">
          You cannot approve this: {v.cannotApprove}
        </p>
      )}
      {failed && (
        <p class="notice bad" role="alert" data-testid="cr-step-error">
          {failed}
        </p>
      )}
      {v.applyError && <p class="notice bad">{v.applyError}</p>}

      {v.ops.map((op, i) => (
        <div class="cr-op panel" key={i}>
          <h2>{op.title}</h2>
          {op.raw ? <pre>{op.raw}</pre> : <DiffTable entries={op.diff} caption={op.title} />}
        </div>
      ))}

      {v.conflicts.length > 0 && (
        <div class="panel" data-testid="cr-conflicts">
          <h2>Conflicts</h2>
          <p>Changed since this request was made: rebase it (its author), which resets its approvals.</p>
          {v.conflicts.map((c) => (
            <div key={userKey(c.key)}>
              <h3>{c.key}</h3>
              <div class="conflict-grid">
                <div>
                  <h4>Base</h4>
                  <pre>{c.base}</pre>
                </div>
                <div>
                  <h4>Current</h4>
                  <pre>{c.current}</pre>
                </div>
                <div>
                  <h4>Proposed</h4>
                  <pre>{c.proposed}</pre>
                </div>
              </div>
            </div>
          ))}
        </div>
      )}

      <h2>Activity</h2>
      {v.events.length === 0 ? (
        <p class="muted">No reviews or comments yet.</p>
      ) : (
        <ul data-testid="cr-activity">
          {v.events.map((e, i) => (
            <li key={i}>
              <strong>{e.actor}</strong> {e.what} · <span class="small">{when(e.time)}</span>
              {e.text && <div>{e.text}</div>}
            </li>
          ))}
        </ul>
      )}

      {v.canEdit && open && (
        <Form action={step} class="panel">
          <div class="field">
            <label for="cr-comment">Comment</label>
            <textarea id="cr-comment" name="comment" maxLength={MAX_COMMENT_CHARS} rows={3} />
          </div>
          <div class="dialog-actions u-jstart">
            <button type="submit" name="step" value="comment" data-testid="cr-comment">
              Comment
            </button>
            {v.status === 'inReview' && (
              <>
                <button type="submit" name="step" value="approve" class="primary" data-testid="cr-approve">
                  Approve
                </button>
                <button type="submit" name="step" value="reject" class="danger" data-testid="cr-reject">
                  Reject
                </button>
              </>
            )}
            {v.status === 'approved' && (
              <button type="submit" name="step" value="apply" class="primary" data-testid="cr-apply">
                Apply
              </button>
            )}
            {v.mine && v.status === 'draft' && (
              <button type="submit" name="step" value="submit" data-testid="cr-submit">
                Submit for review
              </button>
            )}
            {v.mine && v.status === 'conflicted' && (
              <button type="submit" name="step" value="rebase" data-testid="cr-rebase">
                Rebase
              </button>
            )}
            {v.mine && (
              <button type="submit" name="step" value="withdraw" data-testid="cr-withdraw">
                Withdraw
              </button>
            )}
          </div>
        </Form>
      )}
    </section>
  );
});

export const head: DocumentHead = ({ params }) => ({ title: `Change request ${params.id}` });
