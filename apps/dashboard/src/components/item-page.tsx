// The page frames flags and segments share (new item, an item, an item that
// could not be loaded), so a new item kind gets its pages by passing its names and
// editor. Inline components: they add no lazy-loaded chunk to a page.
import type { JSXChildren } from '@builder.io/qwik';
import { Link } from '@builder.io/qwik-city';

/** The "New <kind>" page around a kind's editor (children). */
export const NewItemPage = (props: { kind: string; plural: string; children?: JSXChildren }) => (
  <section aria-labelledby={`new-${props.kind}-title`}>
    <div class="page-head">
      <h1 id={`new-${props.kind}-title`}>New {props.kind}</h1>
      <div class="actions">
        <Link href={`/${props.plural}`}>Back to {props.plural}</Link>
      </div>
    </div>
    {props.children}
  </section>
);

/** An item page whose item could not be loaded: its id, why, and the way back (children). */
export const ItemNotLoaded = (props: { id: string; message: string; children?: JSXChildren }) => (
  <section>
    <h1>
      <code>{props.id}</code>
    </h1>
    <p class="notice bad" role="alert">
      {props.message}
    </p>
    {props.children}
  </section>
);

/**
 * An item's page: its title (the h1 the section is labelled by), what the
 * page head shows beside it (`head`: state, revision, links), the notice
 * after a create redirected here (?created=1), then the kind's editor and
 * more (children).
 */
export const ItemPage = (props: { titleId: string; title: JSXChildren; head: JSXChildren; kind: string; created: boolean; children?: JSXChildren }) => (
  <section aria-labelledby={props.titleId}>
    <div class="page-head">
      <h1 id={props.titleId}>{props.title}</h1>
      {props.head}
    </div>
    {props.created && (
      <p class="notice ok" role="status">
        {props.kind} created.
      </p>
    )}
    {props.children}
  </section>
);
