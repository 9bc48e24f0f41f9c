/**
 * A Point read from its frame, the Request bytes buf[frameAt, frameEnd):
 *
 *   frame := 17:point (tag PointFrame0 PointFrame1) | length varint32 | body
 *   body  := the fields of a Point (tags.ts), in any order; noted by the scan: the time's halves, byName, where the
 *            group's bytes lie, the envelope (fields 2–7) when it is one run, and where the first field entry starts
 *
 * The sidecar's functions look at one or two fields of a point and pass on, or re-wrap, the rest: so the frame is
 * checked whole when it arrives (every tag, length and varint, so a corrupt frame is refused at once), but only the
 * time's halves and byName are read then. A field asked for with field() is found in the frame without building any
 * map; any other property decodes the whole point once, into frozen maps.
 *
 * Emitted as it is, the point goes out as the bytes it came in (a Request and a Response holding one Point are the
 * same bytes: both use field 17); re-wrapped with pointLike(), its envelope bytes (name … tags) are copied rather
 * than decoded and encoded again. Nothing can change a FramePoint — its properties are getters, its maps frozen — so
 * those bytes are always the point's.
 *
 * Strings are checked for valid UTF-8 when read, not on arrival (the group when its state is first looked up): a point
 * passed through unread is passed through as Kapacitor sent it. The frame is a view of the received bytes, which the
 * connection never reuses; kept() copies it for a function that holds a point past the call, so that one held point
 * does not pin a whole socket chunk.
 */
import type { Point } from '../messages.js';
import type { GroupBytes, GroupKey } from './group-key.js';
import { type FieldValue, plainFieldValue, plainPoint } from './plain.js';

/** What a view asks of the decoder that made it (point-decoder.ts): reads that need its reader and tables. */
export interface ViewReader {
  /** Field `name` read from the frame (see FramePoint.field). */
  field(p: FramePoint, name: string, intsAsNumbers: boolean): FieldValue | undefined;
  /** The whole point, decoded, its maps frozen. */
  whole(p: FramePoint): Point;
  /** The group's string (strict UTF-8: a DecodeError otherwise). */
  group(p: FramePoint): string;
  /** The DataView of buf it holds while buf is the read being decoded, or null. */
  words(buf: Uint8Array): DataView | null;
  /** The int64 whose halves are lo and hi. */
  int64(lo: number, hi: number): bigint;
}

export class FramePoint implements Point, GroupBytes {
  private timeValue: bigint | undefined = undefined;
  private groupValue: string | undefined = undefined;
  private decoded: Point | undefined = undefined;

  constructor(
    readonly views: ViewReader,
    /** The Request frame is buf[frameAt, frameEnd): tag 17, length, then the point's body up to the end. */
    readonly buf: Uint8Array,
    readonly frameAt: number,
    readonly frameEnd: number,
    readonly bodyAt: number,
    /** The time's low and high 32 bits, both unsigned: read without making a BigInt (see holdTime in points.ts). */
    readonly timeLo: number,
    readonly timeHi: number,
    /** The group's UTF-8 bytes are buf[groupAt, groupEnd) (empty when the point has none). */
    readonly groupAt: number,
    readonly groupEnd: number,
    readonly byName: boolean,
    /** The bytes of fields 2–7 (name … tags) as one run, or envAt = -1 when other fields are interleaved. */
    readonly envAt: number,
    readonly envEnd: number,
    /** Where the first field-map entry starts (the frame's end when there is none). */
    readonly fieldsAt: number,
    /** Where the time field starts when it ends where the envelope starts (one run with it), else -1. */
    readonly timeAt: number,
  ) {}

  /**
   * A view is also its own point Request, { kind: 'point', point }: the decoder hands it out as it is. A wrapper per
   * point would be a tenth of the bytes allocated per point, and as much more work for the young generation's collector.
   */
  get kind(): 'point' {
    return 'point';
  }
  get point(): FramePoint {
    return this;
  }

  get time(): bigint {
    let t = this.timeValue;
    if (t === undefined) t = this.timeValue = this.views.int64(this.timeLo, this.timeHi);
    return t;
  }

  /** Read when asked for: the session finds a group's state by its bytes (the point is its own GroupBytes). */
  get group(): string {
    let g = this.groupValue;
    if (g === undefined) g = this.groupValue = this.views.group(this);
    return g;
  }

  get words(): DataView | null {
    return this.views.words(this.buf);
  }

  get name(): string {
    return this.whole().name;
  }
  get database(): string {
    return this.whole().database;
  }
  get retentionPolicy(): string {
    return this.whole().retentionPolicy;
  }
  get dimensions(): string[] {
    return this.whole().dimensions;
  }
  get tags(): Record<string, string> {
    return this.whole().tags;
  }
  get fieldsDouble(): Record<string, number> {
    return this.whole().fieldsDouble;
  }
  get fieldsInt(): Record<string, bigint> {
    return this.whole().fieldsInt;
  }
  get fieldsString(): Record<string, string> {
    return this.whole().fieldsString;
  }
  get fieldsBool(): Record<string, boolean> {
    return this.whole().fieldsBool;
  }

  /**
   * The value of field `name`, whatever its type (double, then int, string, bool when a name is in several maps; the
   * last entry of a map wins), or undefined: read from the frame, no map built. With intsAsNumbers, an int within
   * ±2^53 comes as a number (exact), beyond as a bigint.
   */
  field(name: string, intsAsNumbers = false): FieldValue | undefined {
    const d = this.decoded;
    if (d !== undefined) return plainFieldValue(d, name, intsAsNumbers);
    return this.views.field(this, name, intsAsNumbers);
  }

  /** The same point over its own copy of the bytes, for a function that keeps a point past the call. */
  kept(): FramePoint {
    const shift = this.frameAt;
    const copy = new FramePoint(
      this.views,
      this.buf.slice(this.frameAt, this.frameEnd),
      0,
      this.frameEnd - shift,
      this.bodyAt - shift,
      this.timeLo,
      this.timeHi,
      this.groupAt - shift,
      this.groupEnd - shift,
      this.byName,
      this.envAt < 0 ? -1 : this.envAt - shift,
      this.envEnd - shift,
      this.fieldsAt - shift,
      this.timeAt < 0 ? -1 : this.timeAt - shift,
    );
    copy.timeValue = this.timeValue;
    copy.groupValue = this.groupValue;
    copy.decoded = this.decoded;
    return copy;
  }

  /** Snapshots (JSON) and logs see a plain point. */
  toJSON(): Point {
    return plainPoint(this);
  }

  private whole(): Point {
    let d = this.decoded;
    if (d === undefined) d = this.decoded = this.views.whole(this);
    return d;
  }
}

/** The key GroupStates finds p's group by: a view is its own, any other point its group string. */
export function groupKey(p: Point): GroupKey {
  return p instanceof FramePoint ? p : p.group;
}
