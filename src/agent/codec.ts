/**
 * The one door between bytes and messages. A connection decodes with a RequestDecoder and answers through a
 * ResponseWriter made for it; test drivers, the replay command and the benchmark speak Kapacitor's side with
 * encodeRequest and decodeResponse.
 *
 *   frame    := length varint | body                (the framer splits the stream; the codec sees complete bodies)
 *   Request  := 1:info | 2:init | 3:keepalive | 4:snapshot | 5:restore | 16:begin | 17:point | 18:end
 *   Response := 1:info | 2:init | 3:keepalive | 4:snapshot | 5:restore | 6:error | 16:begin | 17:point | 18:end
 *
 * Points are the whole of the traffic, so they have hand-written paths both ways (wire/): same wire format, same
 * results, without protobufjs's intermediate objects and Longs. Everything else, and any point frame the
 * hand-written path declines, goes through protobufjs, over the schema embedded in wire/schema.ts (proto/udf.proto,
 * compiled by protobufjs at load into encoders and decoders as fast as generated static code). A body that cannot be
 * decoded, either way, is a DecodeError. int64 becomes a bigint here and stays so.
 */
import protobuf from 'protobufjs';
import { DecodeError } from './errors.js';
import type { InitOption, Point, Request, Response } from './messages.js';
import { ByteSink } from './wire/byte-sink.js';
import { FramePoint } from './wire/frame-point.js';
import {
  beginFromPb,
  beginToPb,
  bigIntToLong,
  EDGE,
  endFromPb,
  endToPb,
  longToBigInt,
  optionValueFromPb,
  optionValueToPb,
  type Pb,
  pointFromPb,
  pointToPb,
  VALUE_TYPES,
} from './wire/pb.js';
import { PointDecoder } from './wire/point-decoder.js';
import { PointEncoder } from './wire/point-encoder.js';
import { UDF_SCHEMA } from './wire/schema.js';
import { StringTable } from './wire/strings.js';

export { bigIntToLong, longToBigInt } from './wire/pb.js';

const root = protobuf.Root.fromJSON(UDF_SCHEMA);
const RequestType = root.lookupType('agent.Request');
const ResponseType = root.lookupType('agent.Response');

function slowPoint(frame: Uint8Array): Point {
  const r = decodeRequestSlow(frame);
  if (r.kind !== 'point') throw new DecodeError(`Request of ${frame.length} bytes is not a point`);
  return r.point;
}

export interface RequestDecoderOptions {
  /**
   * Points as views of their frames (the default: what the sidecar reads, as far as the function looks), or as plain
   * objects with their own maps (tools and tests that compare or change points).
   */
  views?: boolean;
}

/**
 * Complete Request bodies → Requests, for one connection (it owns the tables its points are read with). A point is
 * a view of buf by default: buf must not be reused while the point lives, and Node's socket chunks never are.
 */
export class RequestDecoder {
  private readonly points: PointDecoder;
  private readonly views: boolean;

  constructor(options: RequestDecoderOptions = {}) {
    this.points = new PointDecoder(slowPoint);
    this.views = options.views ?? true;
  }

  /** The strings its points are read with; the ResponseWriter answering this connection writes with them too. */
  get strings(): StringTable {
    return this.points.strings;
  }

  /** The Request whose body is buf[start, end) (a view is its own point Request); a DecodeError when it is not one. */
  decode(buf: Uint8Array, start = 0, end = buf.length): Request {
    if (this.views) return this.points.view(buf, start, end) ?? decodeRequestSlow(buf.subarray(start, end));
    const point = this.points.plain(buf, start, end);
    return point !== null ? { kind: 'point', point } : decodeRequestSlow(buf.subarray(start, end));
  }

  /** Call when done with the bytes given so far: a view still reads them, the decoder no longer keeps them. */
  release(): void {
    this.points.release();
  }
}

/** One complete Request body, points as plain objects (tools and tests; a connection keeps a RequestDecoder). */
export function decodeRequest(frame: Uint8Array): Request {
  return new RequestDecoder({ views: false }).decode(frame);
}

function decodeRequestSlow(frame: Uint8Array): Request {
  let m: Pb;
  try {
    m = RequestType.decode(frame);
  } catch (err) {
    throw new DecodeError(`cannot decode Request (${frame.length} bytes): ${(err as Error).message}`, err);
  }
  switch (m.message) {
    case 'info':
      return { kind: 'info' };
    case 'init':
      return {
        kind: 'init',
        options: (m.init.options as Pb[]).map((o): InitOption => ({ name: o.name, values: (o.values as Pb[]).map(optionValueFromPb) })),
        taskId: m.init.taskID,
        nodeId: m.init.nodeID,
      };
    case 'keepalive':
      return { kind: 'keepalive', time: longToBigInt(m.keepalive.time) };
    case 'snapshot':
      return { kind: 'snapshot' };
    case 'restore':
      // Copy: the frame is a view of a socket chunk, which the snapshot must not pin.
      return { kind: 'restore', snapshot: new Uint8Array(m.restore.snapshot) };
    case 'begin':
      return { kind: 'begin', begin: beginFromPb(m.begin) };
    case 'point':
      return { kind: 'point', point: pointFromPb(m.point) };
    case 'end':
      return { kind: 'end', end: endFromPb(m.end) };
    default:
      throw new DecodeError(`Request of ${frame.length} bytes carries no known message`);
  }
}

function responseToPb(r: Response): Pb {
  switch (r.kind) {
    case 'info': {
      const options: Record<string, Pb> = {};
      for (const [name, types] of Object.entries(r.info.options)) {
        options[name] = { valueTypes: types.map((t) => VALUE_TYPES.indexOf(t)) };
      }
      return {
        info: { wants: EDGE.indexOf(r.info.wants), provides: EDGE.indexOf(r.info.provides), options },
      };
    }
    case 'init':
      return { init: { success: r.success, error: r.error } };
    case 'keepalive':
      return { keepalive: { time: bigIntToLong(r.time) } };
    case 'snapshot':
      return { snapshot: { snapshot: r.snapshot } };
    case 'restore':
      return { restore: { success: r.success, error: r.error } };
    case 'error':
      return { error: { error: r.error } };
    case 'begin':
      return { begin: beginToPb(r.begin) };
    case 'point':
      return { point: pointToPb(r.point) };
    case 'end':
      return { end: endToPb(r.end) };
  }
}

/**
 * Accumulates length-delimited Responses into one buffer, so a burst of output leaves in a single socket write.
 * Only typed Responses can be pushed: a Response with no message set (which crashes kapacitord) cannot be built.
 *
 * Bytes are written into a slab shared by successive takes (wire/byte-sink.ts): take() hands out a view of what was
 * pushed since the last take, and later pushes continue after it.
 */
export class ResponseWriter {
  private readonly out = new ByteSink();
  private readonly points: PointEncoder;
  private count = 0;

  /** `answering`: the decoder of the connection answered, whose strings the writer finds bytes in. */
  constructor(answering?: RequestDecoder) {
    this.points = new PointEncoder(answering?.strings ?? new StringTable());
  }

  push(r: Response): void {
    if (r.kind === 'point') {
      this.pushPoint(r.point);
      return;
    }
    this.out.bytes(ResponseType.encodeDelimited(responseToPb(r)).finish());
    this.count++;
  }

  pushPoint(point: Point): void {
    if (point instanceof FramePoint) {
      // Passed through: its bytes, which cannot fail to encode (and may join the frames passed through before it).
      this.out.echoFrame(point.buf, point.frameAt, point.frameEnd);
      this.count++;
      return;
    }
    // A point that cannot be encoded (a function put a non-string in a tag, say) leaves no partial frame behind:
    // the ErrorResponse that follows must be readable.
    this.out.settle(); // the mark must come after every byte pushed before
    const mark = this.out.pos - this.out.start;
    try {
      this.points.encode(this.out, point);
    } catch (err) {
      this.out.pos = this.out.start + mark;
      throw err;
    }
    this.count++;
  }

  /** Whole frames encoded earlier (answers sent again, answers-again.ts), as they are. */
  frames(bytes: Uint8Array): void {
    this.out.bytes(bytes);
    this.count++;
  }

  get pending(): number {
    return this.count;
  }

  /** The bytes pushed since the last take, and a fresh start. */
  take(): Uint8Array {
    this.count = 0;
    return this.out.take();
  }
}

// Kapacitor's side of the conversation, for test drivers, the replay command and the benchmark.

function requestToPb(r: Request): Pb {
  switch (r.kind) {
    case 'info':
      return { info: {} };
    case 'init':
      return {
        init: {
          options: r.options.map((o) => ({ name: o.name, values: o.values.map(optionValueToPb) })),
          taskID: r.taskId,
          nodeID: r.nodeId,
        },
      };
    case 'keepalive':
      return { keepalive: { time: bigIntToLong(r.time) } };
    case 'snapshot':
      return { snapshot: {} };
    case 'restore':
      return { restore: { snapshot: r.snapshot } };
    case 'begin':
      return { begin: beginToPb(r.begin) };
    case 'point':
      return { point: pointToPb(r.point) };
    case 'end':
      return { end: endToPb(r.end) };
  }
}

/** One Request as a length-delimited frame. */
export function encodeRequest(r: Request): Uint8Array {
  return RequestType.encodeDelimited(requestToPb(r)).finish();
}

/** One Request body without its length prefix (for tests that build frames by hand). */
export function encodeRequestBody(r: Request): Uint8Array {
  return RequestType.encode(requestToPb(r)).finish();
}

/** One complete Response body; a DecodeError when it is not one. */
export function decodeResponse(frame: Uint8Array): Response {
  let m: Pb;
  try {
    m = ResponseType.decode(frame);
  } catch (err) {
    throw new DecodeError(`cannot decode Response (${frame.length} bytes): ${(err as Error).message}`, err);
  }
  switch (m.message) {
    case 'info': {
      const options: Record<string, (typeof VALUE_TYPES)[number][]> = {};
      for (const [name, info] of Object.entries(m.info.options as Record<string, Pb>)) {
        options[name] = (info.valueTypes as number[]).map((t) => VALUE_TYPES[t]);
      }
      return {
        kind: 'info',
        info: { wants: EDGE[m.info.wants], provides: EDGE[m.info.provides], options },
      };
    }
    case 'init':
      return { kind: 'init', success: m.init.success, error: m.init.error };
    case 'keepalive':
      return { kind: 'keepalive', time: longToBigInt(m.keepalive.time) };
    case 'snapshot':
      return { kind: 'snapshot', snapshot: new Uint8Array(m.snapshot.snapshot) };
    case 'restore':
      return { kind: 'restore', success: m.restore.success, error: m.restore.error };
    case 'error':
      return { kind: 'error', error: m.error.error };
    case 'begin':
      return { kind: 'begin', begin: beginFromPb(m.begin) };
    case 'point':
      return { kind: 'point', point: pointFromPb(m.point) };
    case 'end':
      return { kind: 'end', end: endFromPb(m.end) };
    default:
      throw new DecodeError('Response carries no message');
  }
}
