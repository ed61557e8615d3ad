import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one relay (its own registry, so several relays can share a process). */
export function createRelayMetrics(defaultMetrics: boolean) {
  const registry = new Registry();
  if (defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'flagraft_relay_' });
  const r = [registry];
  return {
    registry,
    eventsReceived: new Counter({ name: 'flagraft_relay_events_received_total', help: 'Change events received from SQS (including duplicates)', registers: r }),
    eventsDelivered: new Counter({ name: 'flagraft_relay_events_fanned_out_total', help: 'Change events released to WebSocket fan-out', registers: r }),
    duplicatesDropped: new Counter({ name: 'flagraft_relay_duplicates_dropped_total', help: 'Events dropped as duplicate or stale by revision', labelNames: ['reason'] as const, registers: r }),
    malformed: new Counter({ name: 'flagraft_relay_malformed_messages_total', help: 'SQS messages that are not a valid change event (sent to the DLQ); also counted in rejected_messages_total{reason="malformed"}', registers: r }),
    rejected: new Counter({
      name: 'flagraft_relay_rejected_messages_total',
      help: 'SQS messages refused before they could influence anything (unsigned, bad-signature, unknown-key, malformed, stale-signature, future-signature, replay, implausible-revision); sent to the DLQ',
      labelNames: ['reason'] as const, registers: r,
    }),
    verified: new Counter({ name: 'flagraft_relay_verified_messages_total', help: 'Messages whose signature verified, by key id (a retired key id must reach 0 growth before it is removed)', labelNames: ['key_id'] as const, registers: r }),
    eventKeys: new Gauge({ name: 'flagraft_relay_event_keys', help: 'Key ids this relay accepts now (1 each), from FLAGRAFT_EVENT_KEYS_FILE', labelNames: ['key_id'] as const, registers: r }),
    heldEvents: new Counter({ name: 'flagraft_relay_implausible_events_held_total', help: 'Events far above the frontier, with nothing chained to them, that the chain was stuck behind (clients told to resync)', registers: r }),
    rewinds: new Counter({ name: 'flagraft_relay_rewinds_total', help: 'Frontier moved back because new work arrived below the head (a bad jump undone; clients told to resync)', registers: r }),
    receiveErrors: new Counter({ name: 'flagraft_relay_sqs_receive_errors_total', help: 'Failed SQS ReceiveMessage calls', registers: r }),
    deleteErrors: new Counter({ name: 'flagraft_relay_sqs_delete_errors_total', help: 'SQS messages whose delete failed (they will be redelivered and de-duplicated)', registers: r }),
    fanoutLatency: new Histogram({
      name: 'flagraft_relay_fanout_latency_seconds',
      help: 'From SQS receipt of an event to its send to every client',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30],
      registers: r,
    }),
    eventAge: new Histogram({
      name: 'flagraft_relay_event_age_seconds',
      help: 'From the change time stamped by the cluster to fan-out (includes clock skew between hosts)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30, 300],
      registers: r,
    }),
    connectedClients: new Gauge({ name: 'flagraft_relay_connected_clients', help: 'Authenticated WebSocket clients', registers: r }),
    slowClientsDisconnected: new Counter({ name: 'flagraft_relay_slow_clients_disconnected_total', help: 'Clients disconnected because their send buffer exceeded the limit', registers: r }),
    authFailures: new Counter({ name: 'flagraft_relay_auth_failures_total', help: 'WebSocket connections refused for a missing, unknown or under-privileged token', registers: r }),
    badClientMessages: new Counter({ name: 'flagraft_relay_bad_client_messages_total', help: 'Messages from authenticated clients refused, by the limit they broke (flag-model JSON shape limit names as in CLIENT_MESSAGE_LIMITS, jsonNumberRange, binary, json, shape)', labelNames: ['limit'] as const, registers: r }),
    resyncsSent: new Counter({ name: 'flagraft_relay_resyncs_sent_total', help: 'Resync instructions sent to clients', labelNames: ['reason'] as const, registers: r }),
    replayedEvents: new Counter({ name: 'flagraft_relay_replayed_events_total', help: 'Events replayed to reconnecting clients from the window', registers: r }),
    resets: new Counter({ name: 'flagraft_relay_resets_total', help: 'Reset markers released (the cluster was restored from a backup; clients told to resync)', labelNames: ['reason'] as const, registers: r }),
    gaps: new Counter({ name: 'flagraft_relay_gaps_total', help: 'Holes in the revision chain declared after waiting (clients told to resync)', registers: r }),
    pendingEvents: new Gauge({ name: 'flagraft_relay_pending_events', help: 'Events held waiting for a missing predecessor', registers: r }),
    frontierRevision: new Gauge({ name: 'flagraft_relay_frontier_revision', help: 'Last revision fanned out in chain order', registers: r }),
  };
}

export type RelayMetrics = ReturnType<typeof createRelayMetrics>;
