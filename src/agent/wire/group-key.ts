/**
 * What a group's state is found by (groups.ts):
 *
 *   GroupKey   := string | GroupBytes
 *   GroupBytes := the group's UTF-8 bytes where they lie, buf[groupAt, groupEnd), and its string when asked for
 *
 * A point read from a frame is its own key (groupKey in frame-point.ts): its state is found from a hash of the bytes
 * in the frame, with no string decoded. Any other point is keyed by its group string.
 */

export interface GroupBytes {
  readonly buf: Uint8Array;
  readonly groupAt: number;
  readonly groupEnd: number;
  /** A DataView of buf while the decoder holds one (a long read), to read the bytes four at a time; else null. */
  readonly words: DataView | null;
  /** Read only for a new group whose bytes are not ASCII: it checks they are UTF-8. */
  readonly group: string;
}

export type GroupKey = string | GroupBytes;
