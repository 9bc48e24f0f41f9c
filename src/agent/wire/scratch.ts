/**
 * Conversions through memory, owned by each reader and byte sink (no buffer shared between them):
 *
 *   int64  := lo uint32 | hi uint32      (halves, in the platform's order)
 *   double := 8 bytes, little-endian on the wire
 *
 * An int64 is made from its halves with one BigInt allocation and no BigInt arithmetic, and split again the same way.
 */

export const LITTLE_ENDIAN = new Uint8Array(new Float64Array([-0]).buffer)[7] === 0x80;
/** The index of the low and the high half of an int64 in a Uint32Array over it. */
export const LO = LITTLE_ENDIAN ? 0 : 1;
export const HI = LITTLE_ENDIAN ? 1 : 0;

export class Scratch {
  readonly int64 = new BigInt64Array(1);
  readonly halves = new Uint32Array(this.int64.buffer);
  readonly f64 = new Float64Array(1);
  readonly f64Bytes = new Uint8Array(this.f64.buffer);

  /** The signed int64 whose halves are lo and hi (both read as unsigned). */
  bigint(lo: number, hi: number): bigint {
    const h = this.halves;
    h[LO] = lo;
    h[HI] = hi;
    return this.int64[0];
  }
}
