// Kafka readiness probe without dependencies: sends one Metadata v1 request (no topics) to HOST:PORT and exits 0 when
// the broker answers with at least one broker and a controller, 1 otherwise. Usage: node kafka-ready.mjs HOST PORT
import net from 'node:net';

const [host = '127.0.0.1', portArg = '29092'] = process.argv.slice(2);
const port = Number(portArg);
const clientId = Buffer.from('udf-stack-probe');

// Request header v1: api_key INT16 (3 = Metadata), api_version INT16, correlation_id INT32, client_id STRING.
// Metadata v1 body: topics ARRAY (-1 = all topics would list everything; 0 = none).
const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4);
let o = 0;
o = body.writeInt16BE(3, o);
o = body.writeInt16BE(1, o);
o = body.writeInt32BE(4242, o);
o = body.writeInt16BE(clientId.length, o);
o += clientId.copy(body, o);
body.writeInt32BE(0, o);
const frame = Buffer.concat([Buffer.alloc(4), body]);
frame.writeInt32BE(body.length, 0);

const fail = (why) => {
  process.stderr.write(`kafka not ready at ${host}:${port}: ${why}\n`);
  process.exit(1);
};

const sock = net.connect({ host, port });
sock.setTimeout(3000, () => fail('timeout'));
sock.on('error', (e) => fail(e.message));
let buf = Buffer.alloc(0);
sock.on('connect', () => sock.write(frame));
sock.on('data', (chunk) => {
  buf = Buffer.concat([buf, chunk]);
  if (buf.length < 4 || buf.length < 4 + buf.readInt32BE(0)) return;
  try {
    // Response v1: correlation_id INT32, brokers ARRAY[node_id INT32, host STRING, port INT32, rack NULLABLE STRING],
    // controller_id INT32, topics ARRAY.
    let p = 4;
    const corr = buf.readInt32BE(p);
    p += 4;
    if (corr !== 4242) fail(`bad correlation id ${corr}`);
    const nBrokers = buf.readInt32BE(p);
    p += 4;
    for (let i = 0; i < nBrokers; i++) {
      p += 4;
      const hl = buf.readInt16BE(p);
      p += 2 + hl;
      p += 4;
      const rl = buf.readInt16BE(p);
      p += 2 + Math.max(rl, 0);
    }
    const controller = buf.readInt32BE(p);
    if (nBrokers < 1) fail('no brokers in metadata');
    if (controller < 0) fail('no controller yet');
    sock.destroy();
    process.exit(0);
  } catch (e) {
    fail(`cannot parse metadata: ${e.message}`);
  }
});
