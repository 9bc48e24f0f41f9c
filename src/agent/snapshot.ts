/**
 * The snapshot format: UTF-8 JSON, versioned, naming the function and the options it was taken under.
 *   {"format":"kapacitor-udf-sidecar/snapshot","version":1,"function":"edgeDetect","options":"…","states":2,"at":ms,"groups":[[group,state],…]}
 * `states` is the version of the function's state shape (StateSpec.version; absent in snapshots taken before states had
 * versions, which read as 1): a restored state of an older version is migrated by the function.
 * `at` (when it was taken, optional) tells the state dir's copy of a task's states from an older one (state-store.ts).
 * bigints inside states are written as {"$bigint":"…"} and Times as {"$time":"…"} (Time.toJSON) so nanosecond times survive exactly, and the numbers JSON has
 * no literal for (NaN, ±Infinity, and −0, which edgeDetect tells from 0) as {"$number":"NaN"} and so on: plain JSON
 * would bring them back as null or 0, and a window over a NaN reading would not continue as it would have.
 * JSON rather than protobuf: snapshots are taken once a minute, and an operator can read one with jq.
 *
 * Version 2 is version 1 with $number; a snapshot is written as version 1 when it holds none, so that a build that
 * reads only version 1 still reads it, and refuses (rather than misreads) one that does.
 */
import { SnapshotError } from './errors.js';
import { Time } from './time.js';

export const SNAPSHOT_FORMAT = 'kapacitor-udf-sidecar/snapshot';
export const SNAPSHOT_VERSION = 2;
const OLDEST_VERSION = 1;

const SPECIAL_NUMBERS: Record<string, number> = { NaN: Number.NaN, Infinity: Infinity, '-Infinity': -Infinity, '-0': -0 };

export interface SnapshotContents {
  function: string;
  options: string;
  groups: [string, unknown][];
  /** When it was taken (ms since the epoch): tells an older copy of a state from a newer one. */
  takenAt?: number;
  /** The version of the states' shape (StateSpec.version); 1 when the snapshot does not say. */
  stateVersion?: number;
}

export function encodeSnapshot(s: SnapshotContents): Uint8Array {
  const b = new SnapshotBuilder();
  b.add(s.groups);
  return b.finish(s.function, s.options, s.takenAt, s.stateVersion);
}

/**
 * A snapshot built a slice of groups at a time, so that a task with a million groups never holds the event loop for
 * long: each slice becomes its bytes at once (no string of the whole snapshot is ever made), joined once at the end.
 */
export class SnapshotBuilder {
  private readonly parts: Buffer[] = [];
  private bytes = 0;
  private special = false;

  /** Groups in the snapshot's order. */
  add(groups: [string, unknown][]): void {
    if (groups.length === 0) return;
    const json = JSON.stringify(groups, (_k, v) => {
      if (typeof v === 'bigint') return { $bigint: v.toString() };
      if (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0))) {
        this.special = true;
        return { $number: Object.is(v, -0) ? '-0' : String(v) };
      }
      return v;
    });
    // The slice's entries without its brackets, after a comma when others came before.
    const part = Buffer.from(`${this.parts.length > 0 ? ',' : ''}${json.slice(1, -1)}`, 'utf8');
    this.parts.push(part);
    this.bytes += part.length;
  }

  /** About how many bytes the snapshot holds so far. */
  get size(): number {
    return this.bytes;
  }

  /** `takenAt` (ms since the epoch): when the snapshot's moment was, so that a newer copy can be told from an older. */
  finish(fn: string, options: string, takenAt?: number, stateVersion = 1): Uint8Array {
    // The groups go last and are written first: the version depends on what they hold.
    const head = JSON.stringify({
      format: SNAPSHOT_FORMAT,
      version: this.special ? SNAPSHOT_VERSION : OLDEST_VERSION,
      function: fn,
      options,
      states: stateVersion,
      ...(takenAt === undefined ? {} : { at: takenAt }),
    });
    return Buffer.concat([Buffer.from(`${head.slice(0, -1)},"groups":[`, 'utf8'), ...this.parts, Buffer.from(']}')]);
  }
}

/** {"$bigint": "…"}, {"$time": "…"} and {"$number": "…"} back to what they stand for; anything else as it is. */
function revive(_k: string, v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  const o = v as Record<string, unknown>;
  if (typeof o.$bigint === 'string' && Object.keys(o).length === 1) return BigInt(o.$bigint);
  if (typeof o.$time === 'string' && Object.keys(o).length === 1 && /^-?\d+$/.test(o.$time)) return Time.of(BigInt(o.$time));
  if (typeof o.$number === 'string' && Object.keys(o).length === 1 && Object.hasOwn(SPECIAL_NUMBERS, o.$number)) {
    return SPECIAL_NUMBERS[o.$number];
  }
  return v;
}

export function decodeSnapshot(bytes: Uint8Array): SnapshotContents {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'), revive);
  } catch (err) {
    throw new SnapshotError(`snapshot of ${bytes.length} bytes is not ${SNAPSHOT_FORMAT} JSON`, err);
  }
  const d = doc as Record<string, unknown>;
  if (d === null || typeof d !== 'object' || d.format !== SNAPSHOT_FORMAT) {
    throw new SnapshotError(`snapshot is not in the ${SNAPSHOT_FORMAT} format`);
  }
  if (typeof d.version !== 'number' || d.version < OLDEST_VERSION || d.version > SNAPSHOT_VERSION) {
    throw new SnapshotError(`snapshot version ${String(d.version)} is not supported (this build reads ${OLDEST_VERSION} to ${SNAPSHOT_VERSION})`);
  }
  if (typeof d.function !== 'string' || typeof d.options !== 'string' || !Array.isArray(d.groups)) {
    throw new SnapshotError('snapshot lacks function, options or groups');
  }
  for (const g of d.groups) {
    if (!Array.isArray(g) || g.length !== 2 || typeof g[0] !== 'string') {
      throw new SnapshotError('snapshot group entries must be [group, state] pairs');
    }
  }
  if (d.states !== undefined && !(Number.isSafeInteger(d.states) && (d.states as number) >= 1)) {
    throw new SnapshotError(`snapshot state version ${String(d.states)} is not a version`);
  }
  const takenAt = typeof d.at === 'number' ? d.at : undefined;
  return {
    function: d.function,
    options: d.options,
    groups: d.groups as [string, unknown][],
    stateVersion: (d.states as number | undefined) ?? 1,
    ...(takenAt === undefined ? {} : { takenAt }),
  };
}
