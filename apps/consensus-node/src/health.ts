// The standard gRPC health service (grpc.health.v1) of a node: SERVING while
// it knows a leader and is not shutting down. Watch streams are told when
// that changes (client port only: the plain-text health port answers Check).
import * as grpc from '@grpc/grpc-js';

const SERVING = 1;
const NOT_SERVING = 2;
const SERVICE_UNKNOWN = 3;

export class Health {
  private readonly watchers = new Set<grpc.ServerWritableStream<any, any>>();

  /** `serving()`: whether the node serves now. */
  constructor(private readonly serving: () => boolean) {}

  private status(): number {
    return this.serving() ? SERVING : NOT_SERVING;
  }

  /** The service; `watch: false` answers Check only (nobody unauthenticated may hold streams open). */
  service(watch = true): grpc.UntypedServiceImplementation {
    const known = (s: string) => s === '' || s === 'flagraft.v1.Flags' || s === 'flagraft.raft.v1.Raft';
    return {
      Check: (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>) => {
        if (!known(call.request.service)) { cb({ code: grpc.status.NOT_FOUND, details: `unknown service ${call.request.service}` }); return; }
        cb(null, { status: this.status() });
      },
      Watch: (call: grpc.ServerWritableStream<any, any>) => {
        if (!watch) { call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'Watch is served on the client port only' }); return; }
        if (!known(call.request.service)) { call.write({ status: SERVICE_UNKNOWN }); }
        else call.write({ status: this.status() });
        this.watchers.add(call);
        call.on('cancelled', () => this.watchers.delete(call));
        call.on('error', () => this.watchers.delete(call));
      },
    };
  }

  /** The serving status may have changed: tell the Watch streams. */
  changed(): void {
    const status = this.status();
    for (const h of this.watchers) h.write({ status });
  }

  /** Shutdown: NOT_SERVING, then the streams end. */
  endAll(): void {
    for (const h of this.watchers) { try { h.write({ status: NOT_SERVING }); h.end(); } catch { /* gone */ } }
  }
}
