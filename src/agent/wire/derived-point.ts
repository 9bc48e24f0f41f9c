/**
 * A point made by pointLike() from a FramePoint:
 *
 *   DerivedPoint := source's envelope (name, database, rp, group, dimensions, byName, tags) | own time or the
 *                   source's | own fields, or one float field (onlyDouble = onlyValue) with no map built
 *
 * Encoded with the source's envelope bytes copied (point-encoder.ts).
 */
import type { Point } from '../messages.js';
import type { FramePoint } from './frame-point.js';
import { plainPoint } from './plain.js';

const NO_FIELDS = Object.freeze({}) as Record<string, never>;

export class DerivedPoint implements Point {
  private doubles: Record<string, number> | null;
  readonly fieldsInt: Record<string, bigint>;
  readonly fieldsString: Record<string, string>;
  readonly fieldsBool: Record<string, boolean>;

  constructor(
    readonly source: FramePoint,
    /** The point's own time, or null for the source's (no BigInt is made for it unless asked for). */
    readonly ownTime: bigint | null,
    fields: {
      double?: Record<string, number>;
      int?: Record<string, bigint>;
      string?: Record<string, string>;
      bool?: Record<string, boolean>;
    } | null,
    /** The one float field of a point made by pointLikeDouble (no map is built unless asked for), or null. */
    readonly onlyDouble: string | null = null,
    readonly onlyValue = 0,
  ) {
    this.doubles = fields?.double ?? (onlyDouble === null ? NO_FIELDS : null);
    this.fieldsInt = fields?.int ?? NO_FIELDS;
    this.fieldsString = fields?.string ?? NO_FIELDS;
    this.fieldsBool = fields?.bool ?? NO_FIELDS;
  }

  get time(): bigint {
    return this.ownTime ?? this.source.time;
  }

  get fieldsDouble(): Record<string, number> {
    let d = this.doubles;
    if (d === null) d = this.doubles = Object.freeze({ [this.onlyDouble as string]: this.onlyValue });
    return d;
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
