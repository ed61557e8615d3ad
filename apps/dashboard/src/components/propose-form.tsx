import { component$ } from '@builder.io/qwik';
import { Form } from '@builder.io/qwik-city';
import { useProposeChange, type Proposal } from '~/server/change-requests';

/**
 * Shown when a write was refused because its environment is protected: one
 * button proposes the same change as a change request (submitted for review)
 * and opens it. The route must export useProposeChange.
 */
export const ProposeForm = component$((props: { proposal: Proposal }) => {
  const propose = useProposeChange();
  const failed = propose.value?.failed ? (propose.value as { message?: string }).message : undefined;
  return (
    <Form action={propose} class="notice warn" data-testid="propose-form">
      <input type="hidden" name="env" value={props.proposal.env} />
      <input type="hidden" name="title" value={props.proposal.title} />
      <input type="hidden" name="ops" value={props.proposal.ops} />
      <button type="submit" class="primary" data-testid="propose-cr" disabled={propose.isRunning}>
        Create a change request: {props.proposal.title}
      </button>
      {failed && <span class="error-text"> {failed}</span>}
    </Form>
  );
});
