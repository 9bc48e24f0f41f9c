/**
 * The connection's write path over in-memory streams: which answers wait for the pacer, which leave at once, and that
 * nothing held is lost at the end. The pacer is replaced by one the test releases by hand, so every check is about
 * order and count, never about time.
 */
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decodeResponse, encodeRequest, encodeRequestBody } from './codec.js';
import { encodeVarint, FrameDecoder } from './framer.js';
import type { Request, Response } from './messages.js';
import { AnswerPacer } from './pacer.js';
import { UdfConnection } from './connection.js';
import { findFunction } from '../udf/registry.js';
import { streamPoint } from '../udf/testing.js';

/** A pacer whose holds end when the test says so. */
class ManualPacer extends AnswerPacer {
  readonly held: Array<() => void> = [];
  override hold(release: () => void): void {
    this.held.push(release);
  }
  releaseAll(): void {
    for (const release of this.held.splice(0)) release();
  }
}

/** The output side: every write kept whole, so a test can count them and read the answers in each. */
class RecordingOutput extends Writable {
  readonly writes: Response[][] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    const answers: Response[] = [];
    new FrameDecoder().push(chunk, (f) => answers.push(decodeResponse(f)));
    this.writes.push(answers);
    done();
  }
}

const point = (i: number): Request => ({
  kind: 'point',
  point: streamPoint('cpu', { host: 'a' }, BigInt(i) * 1_000_000_000n, { fieldsDouble: { usage: i } }),
});

/** Kapacitor's way: the length in one write, the message in the next. */
function kapacitorWrites(input: PassThrough, r: Request): void {
  const body = encodeRequestBody(r);
  input.write(Buffer.from(encodeVarint(body.length)));
  input.write(Buffer.from(body));
}

/** Lets the streams deliver what was written (their 'data' events come on later ticks). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

async function connected(holdAnswers?: number) {
  const input = new PassThrough();
  const output = new RecordingOutput();
  const pacer = new ManualPacer();
  const conn = new UdfConnection(findFunction('movingAverage'), input, output, { pacer, holdAnswers });
  input.write(
    encodeRequest({
      kind: 'init',
      taskId: 't',
      nodeId: 'n',
      options: [
        { name: 'field', values: [{ type: 'string', value: 'usage' }] },
        { name: 'size', values: [{ type: 'int', value: 1n }] },
      ],
    }),
  );
  await settle();
  expect(output.writes).toEqual([[{ kind: 'init', success: true, error: '' }]]);
  output.writes.length = 0;
  return { input, output, pacer, conn };
}

const averages = (answers: Response[]) => answers.map((r) => (r.kind === 'point' ? r.point.fieldsDouble.movingAverage : r.kind));

describe('UdfConnection write path', () => {
  it('answers a burst of small reads in one write, once the pacer releases it', async () => {
    const { input, output, pacer } = await connected();
    for (let i = 1; i <= 5; i++) kapacitorWrites(input, point(i));
    await settle();
    expect(output.writes).toEqual([]);
    expect(pacer.held).toHaveLength(1);
    pacer.releaseAll();
    expect(output.writes.map(averages)).toEqual([[1, 2, 3, 4, 5]]);
    pacer.releaseAll();
    expect(output.writes).toHaveLength(1);
  });

  it('never holds a keepalive: it leaves at once, after the answers held before it', async () => {
    const { input, output, pacer } = await connected();
    kapacitorWrites(input, point(1));
    kapacitorWrites(input, point(2));
    await settle();
    expect(output.writes).toEqual([]);
    kapacitorWrites(input, { kind: 'keepalive', time: 42n });
    await settle();
    expect(output.writes.map(averages)).toEqual([[1, 2, 'keepalive']]);
    // The pacer's later release finds nothing left to write.
    pacer.releaseAll();
    expect(output.writes).toHaveLength(1);
  });

  it('writes what it holds when Kapacitor half-closes, then ends its side', async () => {
    const { input, output } = await connected();
    kapacitorWrites(input, point(7));
    await settle();
    expect(output.writes).toEqual([]);
    input.end();
    await settle();
    expect(output.writes.map(averages)).toEqual([[7]]);
    expect(output.writableEnded).toBe(true);
  });

  it('writes a big read at once (bulk input is not paced)', async () => {
    const { input, output, pacer } = await connected(3);
    input.write(Buffer.concat([1, 2, 3].map((i) => encodeRequest(point(i)))));
    await settle();
    expect(output.writes.map(averages)).toEqual([[1, 2, 3]]);
    expect(pacer.held).toEqual([]);
  });

  it('writes a read of 16 KiB or more at once, however few answers it brought', async () => {
    const { input, output, pacer } = await connected(1000);
    const frames = Array.from({ length: 400 }, (_, i) => encodeRequest(point(i + 1)));
    const chunk = Buffer.concat(frames);
    expect(chunk.length).toBeGreaterThanOrEqual(16 * 1024);
    input.write(chunk);
    await settle();
    expect(output.writes.map((w) => w.length)).toEqual([400]);
    expect(pacer.held).toEqual([]);
  });

  it('writes the answers held before an ErrorResponse, and the error, then ends', async () => {
    const { input, output } = await connected();
    kapacitorWrites(input, point(1));
    await settle();
    // A second Init is a protocol error.
    kapacitorWrites(input, { kind: 'init', taskId: 't', nodeId: 'n', options: [] });
    await settle();
    expect(output.writes.map(averages)).toEqual([[1, 'error']]);
    expect(output.writableEnded).toBe(true);
  });
});

describe('AnswerPacer', () => {
  it('releases every connection that held in a turn, once, after that turn', async () => {
    const pacer = new AnswerPacer(1);
    const released: string[] = [];
    pacer.hold(() => released.push('a'));
    pacer.hold(() => released.push('b'));
    expect(released).toEqual([]);
    await settle();
    expect(released).toEqual(['a', 'b']);
    pacer.hold(() => released.push('c'));
    await settle();
    expect(released).toEqual(['a', 'b', 'c']);
  });
});
