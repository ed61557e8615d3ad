import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SNSClient } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { resolveRelayConfig, type RelayConfig, type RelayOptions } from './config.js';
import type { ChangeEvent, RelayEvent } from './event.js';
import { Hub } from './hub.js';
import { createJsonLogger, type LogFn } from './log.js';
import { createRelayMetrics, type RelayMetrics } from './metrics.js';
import { DeadLetters, resolveDeadLetterMode } from './dead-letter.js';
import { isResetMarker } from './event.js';
import { SqsPollers, type ReceivedDelivery } from './poller.js';
import { provisionResources } from './provision.js';
import { Sequencer } from './sequencer.js';
import { MessageGate } from './verify.js';
import { ReplayWindow } from './window.js';

export interface Relay {
  /** Resolves (or creates) the queue, listens, starts the pollers. */
  start(): Promise<void>;
  /** Graceful shutdown: stop polling, finish deletes, close clients with 1001, close the server. */
  close(): Promise<void>;
  /** Bound address, after start(). */
  readonly address: { host: string; port: number };
  /** `http://host:port` after start(); WebSocket clients use `ws://host:port/ws`. */
  readonly url: string;
  /** The SQS queue the relay consumes, after start(). */
  readonly queueUrl: string;
  readonly metrics: RelayMetrics;
  /** Last revision fanned out in chain order (undefined before the first chained event). */
  frontierRevision(): number | undefined;
}

/** Builds a relay from options (defaults applied, every field checked). */
export function createRelay(options: RelayOptions): Relay {
  const cfg: RelayConfig = resolveRelayConfig(options);
  const log: LogFn = cfg.log ?? createJsonLogger('notification-relay', cfg.logLevel);
  const metrics = createRelayMetrics(cfg.processMetrics);
  const clientCfg = { region: cfg.aws.region, endpoint: cfg.aws.endpoint, credentials: cfg.aws.credentials };
  const sqs = new SQSClient(clientCfg);
  const sns = new SNSClient(clientCfg);
  const window = new ReplayWindow(cfg.replayWindowEvents);
  const receivedAt = new WeakMap<RelayEvent, number>();
  let sequencer: Sequencer;
  const hub = new Hub(cfg, metrics, log, window, () => sequencer.frontierRevision);
  sequencer = new Sequencer(
    {
      maxPendingEvents: cfg.maxPendingEvents, gapTimeoutMs: cfg.gapTimeoutMs, maxTrackedKeys: cfg.maxTrackedKeys,
      maxRevisionGap: cfg.maxRevisionGap, signerClockSkewMs: cfg.signerClockSkewMs,
    },
    {
      established(floor) {
        window.reset(floor);
        log('info', 'revision chain established; replay window starts here', { floor });
      },
      release(events) {
        noteDefaultEnvironment(events);
        hub.broadcast(events);
        for (const ev of events) {
          if (ev.prevRevision === undefined) window.invalidate();
          else window.push(ev);
        }
        metrics.eventsDelivered.inc(events.length);
        const f = sequencer.frontierRevision;
        if (f !== undefined) metrics.frontierRevision.set(f);
      },
      gap(g) {
        if (g.reason === 'rewind') {
          metrics.rewinds.inc();
          log('warn', 'a change signed after the head arrived below it: the head came from a bad jump; rewinding, telling clients to resync', { afterRevision: g.afterRevision, resumeAfter: g.resumeAfter });
        } else {
          metrics.gaps.inc();
          log('warn', 'gap in the revision chain; telling clients to resync', { afterRevision: g.afterRevision, resumeAfter: g.resumeAfter, reason: g.reason });
        }
        hub.resyncAll('gap', g.resumeAfter);
        window.reset(g.resumeAfter);
      },
      held(ev) {
        // Far above the frontier with nothing chained to it, and the chain is stuck
        // behind it: it may be genuine, so clients reload; it is not released (yet).
        metrics.heldEvents.inc();
        const frontier = sequencer.frontierRevision ?? null;
        log('warn', 'implausible event held (far above the frontier, nothing chained to it); telling clients to resync', { revision: ev.revision, prevRevision: ev.prevRevision, frontier, maxRevisionGap: cfg.maxRevisionGap });
        hub.resyncAll(isResetMarker(ev) ? ev.reason : 'gap', frontier);
      },
      dropped(reason) {
        metrics.duplicatesDropped.inc({ reason });
      },
      reset(marker, skipped) {
        // The cluster was restored from a backup: what every client holds is
        // void. Tell them now (not at the next change, after gapTimeoutMs);
        // replay starts again after the restore's revision, which the next
        // change names as its predecessor.
        log('info', 'reset marker: telling every client to resync', { reason: marker.reason, revision: marker.revision, prevRevision: marker.prevRevision, skippedEvents: skipped });
        metrics.resets.inc({ reason: marker.reason });
        hub.resyncAll(marker.reason, marker.revision);
        window.reset(marker.revision);
        metrics.frontierRevision.set(marker.revision);
        const at = receivedAt.get(marker);
        if (at !== undefined) metrics.fanoutLatency.observe((Date.now() - at) / 1000);
      },
    },
  );

  /**
   * The default environment is replicated state: an environment event that
   * marks one as the default (its creation, a change) is the cluster's word
   * for it, over the configured name. Events are signed, so only a node can say so.
   */
  const noteDefaultEnvironment = (events: ChangeEvent[]) => {
    for (const ev of events) {
      if (ev.kind !== 'environment' || !('environment' in ev) || ev.environment?.isDefault !== true) continue;
      if (hub.defaultEnvironment === ev.key) continue;
      log('warn', 'the cluster\'s default environment differs from the configured one; following the cluster', { configured: hub.defaultEnvironment, cluster: ev.key, revision: ev.revision });
      hub.defaultEnvironment = ev.key;
    }
  };

  hub.onFlushed = (events) => {
    const now = Date.now();
    for (const ev of events) {
      const at = receivedAt.get(ev);
      if (at !== undefined) metrics.fanoutLatency.observe((now - at) / 1000);
      const t = Date.parse(ev.time);
      if (Number.isFinite(t)) metrics.eventAge.observe(Math.max(0, now - t) / 1000);
    }
  };

  let server: Server | undefined;
  let pollers: SqsPollers | undefined;
  let gapTimer: NodeJS.Timeout | undefined;
  let queueUrl = cfg.queueUrl ?? '';
  let closing = false;
  let addr = { host: cfg.host, port: 0 };

  const onBatch = (batch: ReceivedDelivery[]) => {
    for (const d of batch) receivedAt.set(d.event, d.receivedAtMs);
    sequencer.offer(batch);
    metrics.pendingEvents.set(sequencer.pendingCount);
  };

  const handleHttp = (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://relay').pathname;
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return json(405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'GET only' } });
    if (path === '/health') return json(200, { status: 'ok' });
    if (path === '/ready') {
      const ready = !closing && pollers?.healthy === true;
      return json(ready ? 200 : 503, { ready, queueUrl, clients: hub.clientCount, revision: sequencer.frontierRevision ?? null });
    }
    if (path === '/metrics') {
      // Key ids accepted now (the keys file may have been reloaded since the last scrape).
      metrics.eventKeys.reset();
      for (const id of cfg.eventKeys.current.keyIds) metrics.eventKeys.set({ key_id: id }, 1);
      metrics.registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(text);
      }, (err: unknown) => json(500, { error: { code: 'INTERNAL', message: String(err) } }));
      return;
    }
    return json(404, { error: { code: 'NOT_FOUND', message: `no route ${path}` } });
  };

  return {
    metrics,
    get address() { return addr; },
    get url() { return `http://${addr.host}:${addr.port}`; },
    get queueUrl() { return queueUrl; },
    frontierRevision: () => sequencer.frontierRevision,

    async start() {
      let provisionedDlqUrl: string | undefined;
      if (cfg.provision) {
        const p = await provisionResources(sns, sqs, cfg.queueName!, cfg.provision, log);
        queueUrl = p.queueUrl;
        provisionedDlqUrl = p.dlqUrl;
      } else if (!queueUrl) {
        queueUrl = (await sqs.send(new GetQueueUrlCommand({ QueueName: cfg.queueName }))).QueueUrl!;
      }
      // Also proves the queue is reachable before the relay reports ready.
      const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['RedrivePolicy'] }));
      const dlqMode = await resolveDeadLetterMode(sqs, attrs.Attributes?.RedrivePolicy, provisionedDlqUrl, log);
      if (dlqMode.kind === 'delete') {
        log('warn', 'queue has no RedrivePolicy (dead-letter queue): refused messages are deleted after being logged and counted', { queueUrl });
      }
      const deadLetters = new DeadLetters(sqs, queueUrl, dlqMode, cfg.poisonRetryDelaySeconds, log);
      const gate = new MessageGate(cfg.eventKeys, { maxSignatureAgeMs: cfg.maxSignatureAgeSeconds * 1000, replayMemory: cfg.replayMemorySignatures });
      server = createServer(handleHttp);
      server.on('upgrade', (req, socket, head) => hub.handleUpgrade(req, socket, head));
      server.on('clientError', (_err, socket) => socket.destroy());
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(cfg.port, cfg.host, () => { server!.off('error', reject); resolve(); });
      });
      const a = server.address() as AddressInfo;
      addr = { host: cfg.host, port: a.port };
      pollers = new SqsPollers(sqs, queueUrl, cfg, metrics, log, gate, deadLetters, onBatch);
      pollers.start();
      gapTimer = setInterval(() => {
        sequencer.checkGaps();
        metrics.pendingEvents.set(sequencer.pendingCount);
      }, Math.max(10, Math.min(1000, Math.floor(cfg.gapTimeoutMs / 4))));
      gapTimer.unref();
      log('info', 'relay listening', {
        host: addr.host, port: addr.port, queueUrl, pollers: cfg.pollers, auth: cfg.auth === 'none' ? 'none' : 'tokens',
        eventKeyIds: cfg.eventKeys.current.keyIds, deadLetter: dlqMode.kind,
      });
    },

    async close() {
      if (closing) return;
      closing = true;
      if (gapTimer) clearInterval(gapTimer);
      // Stop taking messages first; events still held (not fanned out) are not
      // deleted, so SQS redelivers them to the next relay.
      await pollers?.stop(cfg.shutdownTimeoutMs);
      await Promise.all(sequencer.heldDeliveries().map((d) => (d as ReceivedDelivery).nack?.()));
      await hub.close(cfg.shutdownTimeoutMs);
      if (server) {
        const s = server;
        await new Promise<void>((res) => s.close(() => res()));
        s.closeAllConnections();
      }
      sqs.destroy();
      sns.destroy();
      log('info', 'relay stopped', { revision: sequencer.frontierRevision ?? null });
    },
  };
}
