/**
 * A point made by pointLike() from a FramePoint:
 *
 *   DerivedPoint := source's envelope (name, database, rp, group, dimensions, byName, tags) | own time or the
 *                   source's | own fields, or one float field (onlyDouble = onlyValue) with no map built
 *
 * Encoded with the source's envelope bytes copied (point-encoder.ts).
 */
import type { Fields, Point } from '../messages.js';
import type { FramePoint } from './frame-point.js';
import { plainPoint } from './plain.js';

const NO_FIELDS = Object.freeze({}) as Record<string, never>;

export class DerivedPoint implements Point {
  /** null while the point is pointLikeDouble's one float field: its map is made only when asked for. */
  private doubles: Record<string, number> | null = null;
  private ints: Record<string, bigint> = NO_FIELDS;
  private strings: Record<string, string> = NO_FIELDS;
  private bools: Record<string, boolean> = NO_FIELDS;

  // Kept to a few stores: it is built once per answer of an average or a rate, and V8 inlines it there only while the
  // bytecode inlined into that function stays within a budget.
  constructor(
    readonly source: FramePoint,
    /** The point's own time, or null for the source's (no BigInt is made for it unless asked for). */
    readonly ownTime: bigint | null,
    /** The one float field of a point made by pointLikeDouble, or null for a point made with its maps (withFields). */
    readonly onlyDouble: string | null,
    readonly onlyValue: number,
  ) {}

  /** A point with the envelope of `source` and these fields (an absent map is empty). */
  static withFields(source: FramePoint, ownTime: bigint | null, fields: Partial<Fields>): DerivedPoint {
    const p = new DerivedPoint(source, ownTime, null, 0);
    p.doubles = fields.double ?? NO_FIELDS;
    p.ints = fields.int ?? NO_FIELDS;
    p.strings = fields.string ?? NO_FIELDS;
    p.bools = fields.bool ?? NO_FIELDS;
    return p;
  }

  get time(): bigint {
    return this.ownTime ?? this.source.time;
  }

  get fieldsDouble(): Record<string, number> {
    let d = this.doubles;
    if (d === null) d = this.doubles = Object.freeze({ [this.onlyDouble as string]: this.onlyValue });
    return d;
  }
  get fieldsInt(): Record<string, bigint> {
    return this.ints;
  }
  get fieldsString(): Record<string, string> {
    return this.strings;
  }
  get fieldsBool(): Record<string, boolean> {
    return this.bools;
  }

  get name(): string {
    return this.source.name;
  }
  get database(): string {
    return this.source.database;
  }
  get retentionPolicy(): string {
    return this.source.retentionPolicy;
  }
  get group(): string {
    return this.source.group;
  }
  get dimensions(): string[] {
    return this.source.dimensions;
  }
  get byName(): boolean {
    return this.source.byName;
  }
  get tags(): Record<string, string> {
    return this.source.tags;
  }

  toJSON(): Point {
    return plainPoint(this);
  }
}
