// The "physical limit" reference: a minimal node:http server answering a
// fixed JSON body (like ../../shared/bench/etcd-baseline/http-baseline.mjs),
// reading the request body first as the gateway must. Prints its port.
import http from 'node:http';

const BODY = JSON.stringify({ key: 'flag-1', value: true, variant: 'on', reason: 'STATIC' });
const server = http.createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) });
    res.end(BODY);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ msg: 'bare listening', port: server.address().port })));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
