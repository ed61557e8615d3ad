// Container HEALTHCHECK for every flagraft image (copied to /app/healthcheck.mjs).
//   node healthcheck.mjs http <url>          2xx from the app's /health
//   node healthcheck.mjs grpc <host:port>    grpc.health.v1 Check = SERVING on the node's plain-text
//                                            health port (FLAGRAFT_HEALTH_LISTEN; its API ports are mutual TLS)
// Exit 0 healthy, 1 not. Bounded by TIMEOUT_MS so a hung app counts as unhealthy.
const TIMEOUT_MS = 3000;
const [mode, target] = process.argv.slice(2);
const fail = (why) => { console.error(`unhealthy: ${why}`); process.exit(1); };
setTimeout(() => fail(`no answer within ${TIMEOUT_MS} ms`), TIMEOUT_MS).unref();

if (mode === 'http') {
  fetch(target, { signal: AbortSignal.timeout(TIMEOUT_MS) })
    .then((r) => (r.ok ? process.exit(0) : fail(`${target} answered ${r.status}`)), (e) => fail(e.message));
} else if (mode === 'grpc') {
  // Resolved from the app's own node_modules (the consensus node ships grpc-js).
  const grpc = await import('@grpc/grpc-js');
  const client = new grpc.Client(target, grpc.credentials.createInsecure());
  // HealthCheckRequest{service:""} is the empty message; HealthCheckResponse
  // {status: SERVING=1} is the two bytes 0x08 0x01 (field 1, varint).
  client.makeUnaryRequest('/grpc.health.v1.Health/Check', (b) => b, (b) => b, Buffer.alloc(0),
    { deadline: Date.now() + TIMEOUT_MS }, (err, res) => {
      if (err) fail(err.message);
      else if (res.length === 2 && res[0] === 0x08 && res[1] === 0x01) process.exit(0);
      else fail(`health status bytes ${res.toString('hex') || '(empty: UNKNOWN)'}`);
    });
} else {
  fail('usage: node healthcheck.mjs http <url> | grpc <host:port>');
}
