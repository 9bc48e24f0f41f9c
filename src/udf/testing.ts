/**
 * Runs a function without a socket: the same Session the sidecar uses, with responses collected in memory. Backs the
 * unit tests, the demo and `udf-sidecar replay`. `connectInMemory` is the whole connection instead (framing, pacing,
 * the state dir), over in-memory streams.
 *
 * By default every request goes through the wire codec as the sidecar's would — encoded, then decoded into a view of
 * its frame — and every response is encoded and decoded again, so a test of a function tests what Kapacitor sees.
 * `{ wire: false }` hands the session plain objects instead (the path of frames only protobufjs can decode).
 */
import { PassThrough } from 'node:stream';
import { decodeResponse, encodeRequest, encodeRequestBody, RequestDecoder, ResponseWriter } from '../agent/codec.js';
import { type ConnectionOptions, UdfConnection } from '../agent/connection.js';
import { FrameDecoder } from '../agent/framer.js';
import type { ServedFunction } from '../agent/handler.js';
import type { BeginBatch, EndBatch, InitOption, OptionValue, Point, Request, Response } from '../agent/messages.js';
import { Session, type SessionOptions } from '../agent/session.js';
import { parseDuration } from '../duration.js';
import { findFunction } from './registry.js';

export type OptionInput = string | number | bigint | boolean;

/** Init options from plain values, typed by the function's schema (durations may be literals like `90s`). */
export function initOptions(fn: ServedFunction, values: Record<string, OptionInput | OptionInput[]>): InitOption[] {
  const out: InitOption[] = [];
  for (const [name, given] of Object.entries(values)) {
    const spec = fn.definition.options[name];
    for (const v of Array.isArray(given) ? given : [given]) {
      out.push({ name, values: [spec ? toValue(spec.type, name, v) : { type: 'string', value: String(v) }] });
    }
  }
  return out;
}

function toValue(type: OptionValue['type'], name: string, v: OptionInput): OptionValue {
  switch (type) {
    case 'string':
      return { type, value: String(v) };
    case 'bool':
      if (typeof v === 'boolean') return { type, value: v };
      if (v === 'true' || v === 'false') return { type, value: v === 'true' };
      throw new Error(`option ${name}: '${v}' is not true or false`);
    case 'int':
      return { type, value: BigInt(v as string | number | bigint) };
    case 'double':
      return { type, value: Number(v) };
    case 'duration':
      return { type, value: typeof v === 'bigint' ? v : parseDuration(String(v)) };
  }
}

export interface RunnerOptions extends SessionOptions {
  /** Through the wire codec (the default) or as plain objects. */
  wire?: boolean;
}

export class FunctionRunner {
  readonly fn: ServedFunction;
  private readonly responses: Response[] = [];
  private readonly decoder = new RequestDecoder();
  private readonly writer: ResponseWriter | null;
  private readonly session: Session;

  constructor(name: string, options: RunnerOptions = {}) {
    this.fn = findFunction(name);
    this.writer = options.wire === false ? null : new ResponseWriter(this.decoder);
    this.session = new Session(this.fn, this.writer ?? this.responses, options);
  }

  private run(req: Parameters<Session['handle']>[0]): Response[] {
    if (this.writer === null) {
      this.responses.length = 0;
      this.session.handle(req);
      while (!this.session.continueSnapshot());
      return this.responses.splice(0);
    }
    this.session.handle(this.decoder.decode(encodeRequestBody(req)));
    while (!this.session.continueSnapshot());
    const out: Response[] = [];
    new FrameDecoder().push(this.writer.take(), (f) => out.push(decodeResponse(f)));
    return out;
  }

  /** Inits with the given options; returns the InitResponse's error text, or '' on success. */
  init(values: Record<string, OptionInput | OptionInput[]>): string {
    const [r] = this.run({ kind: 'init', options: initOptions(this.fn, values), taskId: 'test', nodeId: `${this.fn.name}1` });
    return r.kind === 'init' ? r.error : `unexpected ${r.kind} response`;
  }

  /** Stream: the points emitted for one input point. */
  point(p: Point): Point[] {
    return this.run({ kind: 'point', point: p }).flatMap((r) => (r.kind === 'point' ? [r.point] : this.unexpected(r)));
  }

  /** Batch: the responses (begin, points, end) for one whole input batch. */
  batch(begin: BeginBatch, points: Point[], end: EndBatch): Response[] {
    const out = this.run({ kind: 'begin', begin });
    for (const point of points) out.push(...this.run({ kind: 'point', point }));
    out.push(...this.run({ kind: 'end', end }));
    for (const r of out) if (r.kind === 'error') this.unexpected(r);
    return out;
  }

  snapshot(): Uint8Array {
    const [r] = this.run({ kind: 'snapshot' });
    return r.kind === 'snapshot' ? r.snapshot : this.unexpected(r);
  }

  /** Returns the RestoreResponse's error text, or '' on success. */
  restore(bytes: Uint8Array): string {
    const [r] = this.run({ kind: 'restore', snapshot: bytes });
    return r.kind === 'restore' ? r.error : this.unexpected(r);
  }

  private unexpected(r: Response): never {
    throw new Error(`${this.fn.name}: unexpected ${r.kind} response${r.kind === 'error' ? `: ${r.error}` : ''}`);
  }
}

/** A stream point as Kapacitor sends one after `groupBy(tags)`. */
export function streamPoint(
  name: string,
  tags: Record<string, string>,
  time: bigint,
  fields: Partial<Pick<Point, 'fieldsDouble' | 'fieldsInt' | 'fieldsString' | 'fieldsBool'>>,
  groupBy: string[] = Object.keys(tags).sort(),
): Point {
  return {
    time,
    name,
    database: 'telegraf',
    retentionPolicy: 'autogen',
    group: groupBy.map((k) => `${k}=${tags[k] ?? ''}`).join(','),
    dimensions: groupBy,
    byName: false,
    tags,
    fieldsDouble: fields.fieldsDouble ?? {},
    fieldsInt: fields.fieldsInt ?? {},
    fieldsString: fields.fieldsString ?? {},
    fieldsBool: fields.fieldsBool ?? {},
  };
}

/**
 * A connection of function `name` over in-memory streams, as the server makes one: `send` writes its requests as one
 * chunk and returns what was answered by the next turn of the event loop, decoded; `close` ends the input and waits.
 */
export function connectInMemory(name: string, options: ConnectionOptions) {
  const input = new PassThrough();
  const output = new PassThrough();
  const conn = new UdfConnection(findFunction(name), input, output, options);
  const out: Response[] = [];
  const framer = new FrameDecoder();
  output.on('data', (c: Buffer) => framer.push(c, (f) => out.push(decodeResponse(f))));
  return {
    conn,
    send: async (...reqs: Request[]): Promise<Response[]> => {
      input.write(Buffer.concat(reqs.map((r) => encodeRequest(r))));
      await new Promise((r) => setImmediate(r));
      return out.splice(0);
    },
    close: async (): Promise<void> => {
      input.end();
      await conn.closed();
    },
  };
}
