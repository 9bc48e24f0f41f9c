/**
 * UdfConnection over an in-memory Duplex, the way a server hands it a socket (one object for both directions, half-open
 * allowed): no socket, no timer. Requests are built and answers read with protobufjs straight from proto/udf.proto, an
 * oracle that shares no code with the agent's codec, and only the connection's constructor is used, so these tests hold
 * whatever the codec looks like inside.
 */
import { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { findFunction } from '../udf/registry.js';
import { UdfConnection } from './connection.js';
import { AnswerPacer } from './pacer.js';

const schema = protobuf.loadSync(fileURLToPath(new URL('../../proto/udf.proto', import.meta.url)));
const RequestType = schema.lookupType('agent.Request');
const ResponseType = schema.lookupType('agent.Response');

const frame = (request: object): Buffer => Buffer.from(RequestType.encodeDelimited(RequestType.fromObject(request)).finish());

/** Every length-prefixed Response in `bytes`, as plain objects (int64 as decimal strings). */
function answers(bytes: Uint8Array): Array<Record<string, any>> {
  const reader = protobuf.Reader.create(bytes);
  const out: Array<Record<string, any>> = [];
  while (reader.pos < reader.len) out.push(ResponseType.toObject(ResponseType.decodeDelimited(reader), { longs: String }));
  return out;
}

/** Each answer's bytes in hex; a snapshot only by kind (it records when it was taken). */
function frames(bytes: Uint8Array): string[] {
  const reader = protobuf.Reader.create(bytes);
  const out: string[] = [];
  while (reader.pos < reader.len) {
    const length = reader.uint32();
    const body = bytes.subarray(reader.pos, reader.pos + length);
    reader.skip(length);
    out.push(ResponseType.decode(body).toJSON().snapshot ? 'snapshot' : Buffer.from(body).toString('hex'));
  }
  return out;
}

/** What the test sees of an answer: its kind, and for a point its group and average. */
const summary = (a: Record<string, any>): string => (a.point ? `${a.point.group}:${a.point.fieldsDouble.movingAverage}` : Object.keys(a)[0]);

const init = frame({
  init: {
    taskID: 't',
    nodeID: 'n',
    options: [
      { name: 'field', values: [{ type: 'STRING', stringValue: 'usage' }] },
      { name: 'size', values: [{ type: 'INT', intValue: 2 }] },
    ],
  },
});
const point = (i: number, host = i % 2 === 1 ? 'a' : 'b'): Buffer => {
  return frame({
    point: {
      time: String(BigInt(i) * 1_000_000_000n),
      name: 'cpu',
      database: 'db',
      retentionPolicy: 'autogen',
      group: `host=${host}`,
      dimensions: ['host'],
      tags: { host },
      fieldsDouble: { usage: i },
    },
  });
};
const keepalive = (time: number): Buffer => frame({ keepalive: { time } });
const points = (from: number, to: number): Buffer[] => Array.from({ length: to - from + 1 }, (_, i) => point(from + i));

/** The connection's side of a socket: keeps every write whole; while held, a write completes only when released. */
class MemorySocket extends Duplex {
  readonly writes: Buffer[] = [];
  /** How many writes had been made when our side ended (-1: not ended). */
  writesAtEnd = -1;
  private held: Array<() => void> | null = null;

  constructor(writableHighWaterMark?: number) {
    super({ allowHalfOpen: true, writableHighWaterMark });
  }
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.writes.push(Buffer.from(chunk));
    if (this.held === null) done();
    else this.held.push(done);
  }
  override _final(done: () => void): void {
    this.writesAtEnd = this.writes.length;
    done();
  }
  hold(): void {
    this.held = [];
  }
  release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const done of held) done();
  }
  get output(): Buffer {
    return Buffer.concat(this.writes);
  }
}

/** A pacer that never releases: only the connection's own rules (and the end of input) write held answers. */
class NeverPacer extends AnswerPacer {
  override hold(): void {}
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function open(options: { holdAnswers?: number; pacer?: AnswerPacer; writableHighWaterMark?: number } = {}) {
  const socket = new MemorySocket(options.writableHighWaterMark);
  const conn = new UdfConnection(findFunction('movingAverage'), socket, socket, {
    pacer: options.pacer ?? new AnswerPacer(0),
    holdAnswers: options.holdAnswers,
  });
  return { socket, conn };
}

/** Feeds `chunks` as separate reads, then half-closes, and waits until the connection has closed. */
async function exchange(chunks: Buffer[]): Promise<MemorySocket> {
  const { socket, conn } = open();
  for (const chunk of chunks) if (chunk.length > 0) socket.push(chunk);
  socket.push(null);
  await conn.closed();
  return socket;
}

// Init, points of two groups, a keepalive, a snapshot request, more points, a keepalive.
const session = Buffer.concat([init, ...points(1, 4), keepalive(42), frame({ snapshot: {} }), ...points(5, 6), keepalive(43)]);
const expected = ['init', 'host=a:2', 'host=b:3', 'keepalive', 'snapshot', 'host=a:4', 'host=b:5', 'keepalive'];

describe('UdfConnection over an in-memory duplex', () => {
  it('answers a whole session in one read as Kapacitor expects', async () => {
    const all = answers((await exchange([session])).output);
    expect(all.map(summary)).toEqual(expected);
    expect(all[0].init.success).toBe(true);
    expect(all[3].keepalive.time).toBe('42');
    expect(all[4].snapshot.snapshot.length).toBeGreaterThan(0);
    expect(all[5].point).toMatchObject({ time: '5000000000', name: 'cpu', tags: { host: 'a' }, dimensions: ['host'] });
  });

  it('gives the same answers, byte for byte, whatever byte the input is split at', async () => {
    const reference = frames((await exchange([session])).output);
    expect(reference).toHaveLength(expected.length);
    for (let at = 0; at <= session.length; at++) {
      const out = frames((await exchange([session.subarray(0, at), session.subarray(at)])).output);
      expect({ splitAt: at, out }).toEqual({ splitAt: at, out: reference });
    }
    const byteByByte = Array.from({ length: session.length }, (_, i) => session.subarray(i, i + 1));
    expect(frames((await exchange(byteByByte)).output)).toEqual(reference);
  }, 60_000);

  it('gives the same answers whatever byte is split at around a snapshot that takes several turns to build', async () => {
    // More groups than one snapshot slice: the input behind the request waits, paused, while it is built.
    const groups = Array.from({ length: 2500 }, (_, i) => point(1, `h${i}`));
    const head = Buffer.concat([init, ...groups.slice(0, -1)]);
    const tail = Buffer.concat([groups[groups.length - 1], keepalive(1), frame({ snapshot: {} }), point(2, 'h0'), keepalive(2)]);
    const input = Buffer.concat([head, tail]);
    const reference = frames((await exchange([input])).output);
    expect(reference).toEqual([expect.any(String), expect.any(String), 'snapshot', expect.any(String), expect.any(String)]);
    for (let at = head.length; at <= input.length; at++) {
      const out = frames((await exchange([input.subarray(0, at), input.subarray(at)])).output);
      expect({ splitAt: at, out }).toEqual({ splitAt: at, out: reference });
    }
  }, 120_000);

  it('writes the answers of one read in one write, and never splits them across writes', async () => {
    const { socket } = open({ holdAnswers: 0 });
    const reads = [Buffer.concat([init, point(1)]), Buffer.concat(points(2, 4)), Buffer.concat([point(5), keepalive(7), point(6)])];
    for (const read of reads) {
      socket.push(read);
      await settle();
    }
    expect(socket.writes.map((w) => answers(w).map(summary))).toEqual([['init'], ['host=a:2', 'host=b:3'], ['host=a:4', 'keepalive', 'host=b:5']]);
  });

  it('may join the answers of a burst of small reads, never more writes than reads', async () => {
    const { socket } = open();
    socket.push(init);
    await settle();
    // Kapacitor's way: a point's length in one write, its body in the next.
    const reads = points(1, 6).flatMap((p) => [p.subarray(0, 1), p.subarray(1)]);
    for (const read of reads) socket.push(read);
    await settle();
    await settle();
    const writes = socket.writes.slice(1);
    expect(writes.length).toBeGreaterThanOrEqual(1);
    expect(writes.length).toBeLessThanOrEqual(reads.length);
    expect(answers(Buffer.concat(writes)).map(summary)).toEqual(['host=a:2', 'host=b:3', 'host=a:4', 'host=b:5']);
  });

  it('stops reading while a write is refused and resumes on drain, losing and reordering nothing', async () => {
    const { socket } = open({ holdAnswers: 0, writableHighWaterMark: 1 });
    socket.hold();
    socket.push(init);
    await settle();
    expect(socket.writes).toHaveLength(1);
    // The Init answer filled the output: what comes now must stay unread until it drains.
    const rest = [...points(1, 4), keepalive(9), ...points(5, 6)];
    for (const read of rest) socket.push(read);
    await settle();
    await settle();
    expect(socket.isPaused()).toBe(true);
    expect(socket.readableLength).toBe(Buffer.concat(rest).length);
    expect(socket.writes).toHaveLength(1);
    socket.release();
    for (let i = 0; i < 4 * rest.length && socket.readableLength > 0; i++) await settle();
    expect(socket.readableLength).toBe(0);
    expect(answers(socket.output).map(summary)).toEqual(['init', 'host=a:2', 'host=b:3', 'keepalive', 'host=a:4', 'host=b:5']);
  });

  it('writes every held answer when the input ends, before it ends its own side', async () => {
    const { socket, conn } = open({ pacer: new NeverPacer() });
    socket.push(init);
    await settle();
    for (const p of points(1, 4)) socket.push(p);
    await settle();
    // Small reads wait for a pacer that never comes: only the end of input writes them.
    expect(socket.writes).toHaveLength(1);
    socket.push(null);
    await conn.closed();
    expect(socket.writesAtEnd).toBe(socket.writes.length);
    expect(answers(socket.output).map(summary)).toEqual(['init', 'host=a:2', 'host=b:3']);
  });

  it('flushes on end of input even while the output is refusing writes', async () => {
    const { socket, conn } = open({ holdAnswers: 0, writableHighWaterMark: 1 });
    socket.hold();
    for (const read of [init, ...points(1, 4)]) socket.push(read);
    socket.push(null);
    await settle();
    socket.release();
    await conn.closed();
    expect(socket.writesAtEnd).toBe(socket.writes.length);
    expect(answers(socket.output).map(summary)).toEqual(['init', 'host=a:2', 'host=b:3']);
  });
});
