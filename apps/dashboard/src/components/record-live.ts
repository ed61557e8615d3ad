// Live reload of the change request and schedule pages: an EventSource on the
// dashboard's /live/records (record-stream.ts); every change request (or
// schedule) event reloads the page's data, at most once per RELOAD_AFTER_MS.
import { useSignal, useVisibleTask$ } from '@builder.io/qwik';
import { useNavigate } from '@builder.io/qwik-city';

/** Events arriving within this many ms share one reload. */
export const RELOAD_AFTER_MS = 150;

/**
 * Returns `state`: 'connecting' | 'live' (the gateway's `ready` arrived), and
 * `events`: how many events arrived (for a status indicator and the tests).
 */
export function useRecordLive(kind: 'changeRequest' | 'schedule') {
  const nav = useNavigate();
  const state = useSignal<'connecting' | 'live'>('connecting');
  const events = useSignal(0);
  // eslint-disable-next-line qwik/no-use-visible-task
  useVisibleTask$(({ cleanup }) => {
    const es = new EventSource(`/live/records?kind=${kind}`);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reload = () => {
      events.value++;
      if (timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        nav(location.pathname + location.search, { forceReload: true });
      }, RELOAD_AFTER_MS);
    };
    es.addEventListener('ready', () => (state.value = 'live'));
    es.onmessage = reload;
    // The gateway could not replay from our position: re-read too.
    es.addEventListener('reset', reload);
    es.onerror = () => (state.value = 'connecting');
    cleanup(() => {
      es.close();
      if (timer) clearTimeout(timer);
    });
  });
  return { state, events };
}
