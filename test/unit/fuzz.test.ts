/**
 * A seeded fuzz campaign against the agent on real Unix sockets (an in-process UdfServer): every Request kind is
 * encoded valid, then mutated — bits flipped, bytes inserted, dropped or overwritten, cut short, length prefixes
 * changed — and sent over many connections of every function while a canary task runs beside them.
 *
 * What must hold, whatever comes in: every response decodes; no Response without a message and no EndBatch without
 * its BeginBatch (either crashes kapacitord); a connection ends at most with an ErrorResponse that reads as a
 * protocol complaint, never as a JavaScript error; and the canary's responses are exactly those of the same inputs
 * run alone. The seed and the campaign size are printed on failure; FUZZ_SEED and FUZZ_CONNECTIONS change them.
 */
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UdfClient } from '../../src/agent/client.js';
import { decodeResponse, encodeRequest } from '../../src/agent/codec.js';
import { FrameDecoder, encodeVarint } from '../../src/agent/framer.js';
import { mulberry32 } from '../../src/random.js';
import type { BeginBatch, EndBatch, Point, Request, Response } from '../../src/agent/messages.js';
import { UdfServer } from '../../src/agent/server.js';
import { FunctionRunner, initOptions, streamPoint } from '../../src/udf/testing.js';
import { findFunction, servedFunctions } from '../../src/udf/registry.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
const CONNECTIONS = Number(process.env.FUZZ_CONNECTIONS ?? 1500);

const OPTIONS: Record<string, Record<string, string | bigint | boolean>> = {
  edgeDetect: { field: 'v', previousAs: 'was', durationAs: 'lasted', minDuration: '2s' },
  movingAverage: { field: 'v', size: 3n },
  rate: { field: 'v' },
  increase: { field: 'v', window: '10s' },
  increaseBatch: { field: 'v' },
};

/** Valid requests of every kind for function `fn`, the bodies the mutations start from. */
function validRequests(fn: string, r: () => number): Request[] {
  const served = findFunction(fn);
  const base = served.definition.name;
  const batch = served.edge === 'batch';
  const pointOf = (i: number): Point =>
    streamPoint('m', { host: `h${i % 3}`, dc: 'é' }, BigInt(i) * 1_000_000_000n, {
      fieldsDouble: r() < 0.5 ? { v: r() * 100 } : {},
      fieldsInt: r() < 0.5 ? { v: BigInt(Math.floor(r() * 1e6)) } : { n: -1n },
      fieldsString: { s: 'x'.repeat(Math.floor(r() * 20)) },
      fieldsBool: { b: r() < 0.5 },
    });
  const point = (i: number): Request => ({ kind: 'point', point: pointOf(i) });
  const beginBatch: BeginBatch = { name: 'm', group: 'host=h0', tags: { host: 'h0' }, size: 3n, byName: false };
  const endBatch: EndBatch = { name: 'm', group: 'host=h0', tmax: 9n, tags: { host: 'h0' }, byName: false };
  const begin: Request = { kind: 'begin', begin: beginBatch };
  const end: Request = { kind: 'end', end: endBatch };
  const runner = new FunctionRunner(fn);
  runner.init(OPTIONS[fn] ?? OPTIONS[base]);
  if (batch) runner.batch(beginBatch, [pointOf(1), pointOf(2)], endBatch);
  else [pointOf(1), pointOf(2)].forEach((q) => runner.point(q));
  return [
    { kind: 'info' },
    { kind: 'init', taskId: 'fuzz', nodeId: `${fn}1`, options: initOptions(served, OPTIONS[fn] ?? OPTIONS[base]) },
    { kind: 'keepalive', time: BigInt(Math.floor(r() * 2 ** 53)) },
    { kind: 'snapshot' },
    { kind: 'restore', snapshot: runner.snapshot() },
    begin,
    point(3),
    point(4),
    end,
  ];
}

/** One frame, maybe mutated: the body, the prefix, or both. */
function mutate(frame: Uint8Array, r: () => number): Uint8Array {
  const bytes = [...frame];
  const prefixLen = bytes.findIndex((b) => b < 0x80) + 1;
  const body = bytes.slice(prefixLen);
  const what = Math.floor(r() * 8);
  const at = () => Math.floor(r() * Math.max(1, body.length));
  switch (what) {
    case 0: // flip a bit
      if (body.length) body[at()] ^= 1 << Math.floor(r() * 8);
      break;
    case 1: // overwrite a byte
      if (body.length) body[at()] = Math.floor(r() * 256);
      break;
    case 2: // insert bytes
      body.splice(at(), 0, ...Array.from({ length: 1 + Math.floor(r() * 4) }, () => Math.floor(r() * 256)));
      break;
    case 3: // drop bytes
      body.splice(at(), 1 + Math.floor(r() * 4));
      break;
    case 4: // an overlong varint where one lies: ten bytes for a small value
      for (let i = 0; i < body.length; i++) {
        if (body[i] < 0x80 && r() < 0.2) {
          body.splice(i, 1, body[i] | 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00);
          break;
        }
      }
      break;
    case 5: // invalid UTF-8 in a string
      if (body.length) body[at()] = 0xc0 | Math.floor(r() * 2);
      break;
    case 6: // cut short, keeping the prefix: the next frame's bytes are read as this one's rest
      return Uint8Array.from([...encodeVarint(body.length), ...body.slice(0, at())]);
    default: // the prefix says more or less than there is
      return Uint8Array.from([...encodeVarint(Math.max(0, body.length + Math.floor(r() * 9) - 4)), ...body]);
  }
  return Uint8Array.from([...encodeVarint(body.length), ...body]);
}

/** Responses of a raw connection: decoded as Kapacitor would; a frame that does not decode fails the test. */
function collect(socket: net.Socket): { responses: Response[]; undecodable: string[]; done: Promise<void> } {
  const responses: Response[] = [];
  const undecodable: string[] = [];
  const framer = new FrameDecoder();
  const done = new Promise<void>((resolve) => {
    socket.on('data', (chunk) => {
      try {
        framer.push(chunk, (f) => responses.push(decodeResponse(f)));
      } catch (err) {
        undecodable.push((err as Error).message);
        socket.destroy();
      }
    });
    socket.on('close', () => resolve());
    socket.on('end', () => resolve());
    socket.on('error', () => resolve());
  });
  return { responses, undecodable, done };
}

// What an ErrorResponse of a JavaScript failure reads like, rather than a complaint about the input.
const INTERNAL = /TypeError|ReferenceError|RangeError|is not a function|Cannot read prop|undefined|null|Maximum call stack|\[object /;

let dir: string;
let server: UdfServer;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'fuzz-'));
  server = new UdfServer(servedFunctions, { socketDir: dir, maxFrame: 64 * 1024, initTimeoutMs: 5_000, stopGraceMs: 500 });
  await server.listen();
});

afterAll(async () => {
  await server?.close();
});

describe('fuzz', () => {
  it(`survives ${CONNECTIONS} connections of mutated frames of every kind (seed ${SEED}), the canary exact`, async () => {
    const r = mulberry32(SEED);
    // The canary: a movingAverage task fed between the fuzzed connections, compared with the same inputs run alone.
    const canaryInputs = Array.from({ length: 200 }, (_, i) =>
      streamPoint('cpu', { host: `c${i % 4}` }, BigInt(i) * 1_000_000_000n, { fieldsDouble: { v: (i * 7) % 13 } }),
    );
    const alone = new FunctionRunner('movingAverage');
    alone.init({ field: 'v', size: 5n });
    const expected = canaryInputs.flatMap((p) => alone.point(p));
    const canary = await UdfClient.connect(path.join(dir, 'movingAverage.sock'));
    canary.send({ kind: 'init', taskId: 'canary', nodeId: 'movingAverage1', options: initOptions(findFunction('movingAverage'), { field: 'v', size: 5n }) });
    expect(await canary.take(1)).toEqual([{ kind: 'init', success: true, error: '' }]);
    const canaryOut: Response[] = [];

    const kinds = new Set<string>();
    const failures: string[] = [];
    for (let c = 0; c < CONNECTIONS; c++) {
      const fn = servedFunctions[c % servedFunctions.length].name;
      const valid = validRequests(fn, r);
      const frames: Uint8Array[] = [];
      // Init first, unmutated, most of the time: the deeper states are reached only past it.
      if (r() < 0.8) frames.push(encodeRequest(valid[1]));
      for (let k = 0; k < 30; k++) {
        const req = valid[Math.floor(r() * valid.length)];
        const bytes = encodeRequest(req);
        if (r() < 0.5) {
          kinds.add(req.kind);
          frames.push(mutate(bytes, r));
        } else frames.push(bytes);
      }
      const socket = net.connect({ path: path.join(dir, `${fn}.sock`), allowHalfOpen: true });
      const { responses, undecodable, done } = collect(socket);
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      // In a few writes of random sizes: frames split anywhere.
      const all = Buffer.concat(frames);
      for (let i = 0; i < all.length; ) {
        const n = 1 + Math.floor(r() * 200);
        socket.write(all.subarray(i, i + n));
        i += n;
      }
      socket.end();
      await done;
      socket.destroy();

      for (const why of undecodable) failures.push(`${fn} #${c}: a response Kapacitor could not decode: ${why}`);
      let open = 0;
      responses.forEach((res, i) => {
        if (res.kind === 'begin') open++;
        if (res.kind === 'end' && open-- <= 0) failures.push(`${fn} #${c}: EndBatch without BeginBatch`);
        if (res.kind === 'error') {
          if (i !== responses.length - 1) failures.push(`${fn} #${c}: responses after an ErrorResponse`);
          if (INTERNAL.test(res.error)) failures.push(`${fn} #${c}: internal error reached the client: ${res.error}`);
        }
      });

      // The canary gets its next point between fuzzed connections.
      const p = canaryInputs[c % canaryInputs.length];
      if (c < canaryInputs.length) {
        canary.send({ kind: 'point', point: p });
        canaryOut.push(...canary.drain());
      }
    }
    for (let c = CONNECTIONS; c < canaryInputs.length; c++) canary.send({ kind: 'point', point: canaryInputs[c] });
    canary.send({ kind: 'keepalive', time: 1n });
    canaryOut.push(...(await canary.finish()));
    expect(failures).toEqual([]);
    expect(kinds).toEqual(new Set(['info', 'init', 'keepalive', 'snapshot', 'restore', 'begin', 'point', 'end']));
    expect(canaryOut).toEqual([...expected.map((point) => ({ kind: 'point', point })), { kind: 'keepalive', time: 1n }]);
    expect(server.connectionCount).toBe(0);
  }, 120_000);
});
