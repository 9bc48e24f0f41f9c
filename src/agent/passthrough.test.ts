/**
 * Points are passed through as the bytes they came in; bytes Kapacitor could not decode must never leave that way:
 * invalid UTF-8 is refused (the connection ends with an ErrorResponse), a varint that overflows 64 bits is read by the
 * codec and the point leaves re-encoded.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { initOptions, streamPoint } from '../udf/testing.js';
import { findFunction } from '../udf/registry.js';
import { decodeResponse, encodeRequest } from './codec.js';
import { UdfConnection } from './connection.js';
import { FrameDecoder } from './framer.js';
import type { Response } from './messages.js';

async function run(fn: string, frames: Uint8Array[]): Promise<Response[]> {
  const input = new PassThrough();
  const output = new PassThrough();
  const conn = new UdfConnection(findFunction(fn), input, output);
  const out: Response[] = [];
  const framer = new FrameDecoder();
  // Strict, as Kapacitor decodes: a string that is not UTF-8 throws.
  output.on('data', (chunk: Buffer) => framer.push(chunk, (f) => out.push(decodeResponse(f))));
  input.end(Buffer.concat([encodeRequest({ kind: 'init', taskId: 't', nodeId: 'n', options: initOptions(findFunction(fn), { field: 'v' }) }), ...frames]));
  await conn.closed();
  return out;
}

/** The frame of `point` with the bytes of `from` (ASCII, same length) replaced by `to` wherever they occur. */
function patched(frame: Uint8Array, from: string, to: number[]): Uint8Array {
  const bytes = Buffer.from(frame);
  const at = bytes.indexOf(from, 0, 'latin1');
  if (at < 0) throw new Error(`${from} not in the frame`);
  to.forEach((b, i) => (bytes[at + i] = b));
  return bytes;
}

describe('bytes passed through', () => {
  it.each(['name', 'tag', 'field key', 'string field'])('refuses invalid UTF-8 in a %s rather than echoing it', async (where) => {
    const p = streamPoint('mXX', { host: 'hXX' }, 1n, { fieldsInt: { v: 1n, kXX: 2n }, fieldsString: { s: 'sXX' } });
    const frame = encodeRequest({ kind: 'point', point: p });
    const marker = { name: 'mXX', tag: 'hXX', 'field key': 'kXX', 'string field': 'sXX' }[where] as string;
    const out = await run('edgeDetect', [patched(frame, marker, [marker.charCodeAt(0), 0xc0, 0xaf])]);
    expect(out[0]).toEqual({ kind: 'init', success: true, error: '' });
    expect(out.slice(1)).toEqual([{ kind: 'error', error: expect.stringMatching(/^edgeDetect: cannot decode Request/) }]);
  });

  it('passes non-ASCII UTF-8 through as it came', async () => {
    const p = streamPoint('mé', { host: 'hé' }, 1n, { fieldsInt: { v: 1n }, fieldsString: { s: '✓' } });
    const out = await run('edgeDetect', [encodeRequest({ kind: 'point', point: p })]);
    expect(out.slice(1)).toEqual([{ kind: 'point', point: p }]);
  });

  it('re-encodes a point whose int field is a 10-byte varint overflowing 64 bits', async () => {
    const p = streamPoint('m', { host: 'h' }, 1n, { fieldsInt: { v: -1n } });
    const frame = Buffer.from(encodeRequest({ kind: 'point', point: p }));
    // -1 is ten bytes ending in 0x01; a tenth byte of 0x7f says more than 64 bits.
    const last = frame.indexOf(Buffer.from([0xff, 0x01]));
    frame[last + 1] = 0x7f;
    const bytes: Buffer[] = [];
    const input = new PassThrough();
    const output = new PassThrough();
    const conn = new UdfConnection(findFunction('edgeDetect'), input, output);
    output.on('data', (c: Buffer) => bytes.push(c));
    input.end(
      Buffer.concat([encodeRequest({ kind: 'init', taskId: 't', nodeId: 'n', options: initOptions(findFunction('edgeDetect'), { field: 'v' }) }), frame]),
    );
    await conn.closed();
    const all = Buffer.concat(bytes);
    expect(all.includes(Buffer.from([0xff, 0x7f]))).toBe(false);
    const out: Response[] = [];
    new FrameDecoder().push(all, (f) => out.push(decodeResponse(f)));
    expect(out[1]).toMatchObject({ kind: 'point' });
  });
});
