import { component$, useSignal, useVisibleTask$ } from '@builder.io/qwik';

/**
 * A UTC time (ISO) rendered in UTC on the server, then in the browser's own
 * time zone once visible (the server cannot know the zone), UTC beside it.
 */
export const LocalTime = component$((props: { iso: string }) => {
  const local = useSignal('');
  // eslint-disable-next-line qwik/no-use-visible-task
  useVisibleTask$(({ track }) => {
    const iso = track(() => props.iso);
    local.value = `${new Date(iso).toLocaleString()} (${iso.slice(0, 16).replace('T', ' ')} UTC)`;
  });
  return <time dateTime={props.iso}>{local.value || `${props.iso.replace('T', ' ').slice(0, 19)} UTC`}</time>;
});
