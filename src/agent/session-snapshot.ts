/**
 * What a session's snapshots and restores take, apart from the protocol around them (session.ts):
 *
 *   Snapshot := the format of snapshot.ts, built a slice of groups per step (SnapshotJob)
 *   Restore  := bytes → refused (unreadable, another function's) | fresh (other options, or empty) | the groups whose
 *               state fits the function (fittingGroups)
 */
import type { UdfLogic } from './handler.js';
import type { EdgeType } from './messages.js';
import { decodeSnapshot, SnapshotBuilder, type SnapshotContents } from './snapshot.js';
import { SnapshotError } from './errors.js';

/** Groups a snapshot takes in one step: a few milliseconds of work. */
export const SNAPSHOT_SLICE = 2000;

/**
 * A batch function's group state, with the newest point time it has processed. Batch queries usually overlap
 * (`.period(1h).every(10s)` sees each point 360 times); each point is processed once, so an edge, an average or a
 * rate is not recomputed from points the function already saw.
 */
export interface BatchGroup {
  seen: bigint | null;
  state: unknown;
}

/** A snapshot being built, a slice of groups per step. */
export class SnapshotJob {
  private readonly builder = new SnapshotBuilder();
  private readonly at = Date.now();

  constructor(private readonly entries: Iterator<[string, unknown]>) {}

  /** Adds the next slice: the snapshot's bytes once the last one is in, else null. */
  step(fn: string, optionsFingerprint: string, stateVersion: number): Uint8Array | null {
    const slice: [string, unknown][] = [];
    for (;;) {
      const r = this.entries.next();
      if (r.done) break;
      slice.push(r.value);
      if (slice.length === SNAPSHOT_SLICE) {
        this.builder.add(slice);
        return null;
      }
    }
    this.builder.add(slice);
    return this.builder.finish(fn, optionsFingerprint, this.at, stateVersion);
  }
}

export type RestoreReading =
  | { kind: 'refused'; error: string }
  /** Taken under other options: the old state does not describe the new computation. */
  | { kind: 'other-options' }
  | { kind: 'contents'; contents: SnapshotContents };

/** What the Restore bytes hold for function `fn` (its definition's name) under the options of `fingerprint`. */
export function readRestore(bytes: Uint8Array, fn: string, definition: string, fingerprint: string): RestoreReading {
  let contents: SnapshotContents;
  try {
    contents = decodeSnapshot(bytes);
  } catch (err) {
    return { kind: 'refused', error: `${fn}: ${(err as Error).message}` };
  }
  if (contents.function !== definition) return { kind: 'refused', error: `${fn}: snapshot was taken by ${contents.function}, not ${definition}` };
  if (contents.options !== fingerprint) return { kind: 'other-options' };
  return { kind: 'contents', contents };
}

/**
 * The groups whose state fits the function, read as states of `version` (UdfLogic.restored throws for one that does not), with how many did not
 * and why the first did not.
 */
export function fittingGroups(
  entries: [string, unknown][],
  edge: EdgeType,
  logic: UdfLogic<unknown>,
  version: number,
): { groups: [string, unknown][]; dropped: number; first: string } {
  const restored = (s: unknown) => logic.restored(s, version);
  const groups: [string, unknown][] = [];
  let dropped = 0;
  let first = '';
  for (const [group, s] of entries) {
    try {
      if (edge === 'stream') {
        groups.push([group, restored(s)]);
        continue;
      }
      const b = s as Partial<BatchGroup> | null;
      if (b === null || typeof b !== 'object' || !('state' in b) || (b.seen !== null && typeof b.seen !== 'bigint')) {
        throw new SnapshotError('state is not a batch group ({seen, state})');
      }
      groups.push([group, { seen: b.seen, state: restored(b.state) }]);
    } catch (err) {
      dropped++;
      first ||= `group '${group}': ${(err as Error).message}`;
    }
  }
  return { groups, dropped, first };
}
