/**
 * The snapshot format: UTF-8 JSON, versioned, naming the function and the options it was taken under.
 *   {"format":"kapacitor-udf-sidecar/snapshot","version":1,"function":"edgeDetect","options":"…","groups":[[group,state],…]}
 * bigints inside states are written as {"$bigint":"…"} so nanosecond times survive exactly. JSON rather than protobuf:
 * snapshots are taken once a minute, and an operator can read one with `kapacitor show`-level tooling and jq.
 */
import { SnapshotError } from './errors.js';

export const SNAPSHOT_FORMAT = 'kapacitor-udf-sidecar/snapshot';
export const SNAPSHOT_VERSION = 1;

export interface SnapshotContents {
  function: string;
  options: string;
  groups: [string, unknown][];
}

export function encodeSnapshot(s: SnapshotContents): Uint8Array {
  const text = JSON.stringify(
    { format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, function: s.function, options: s.options, groups: s.groups },
    (_k, v) => (typeof v === 'bigint' ? { $bigint: v.toString() } : v),
  );
  return Buffer.from(text, 'utf8');
}

export function decodeSnapshot(bytes: Uint8Array): SnapshotContents {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'), (_k, v) =>
      v !== null && typeof v === 'object' && typeof v.$bigint === 'string' && Object.keys(v).length === 1
        ? BigInt(v.$bigint)
        : v,
    );
  } catch (err) {
    throw new SnapshotError(`snapshot of ${bytes.length} bytes is not ${SNAPSHOT_FORMAT} JSON`, err);
  }
  const d = doc as Record<string, unknown>;
  if (d === null || typeof d !== 'object' || d.format !== SNAPSHOT_FORMAT) {
    throw new SnapshotError(`snapshot is not in the ${SNAPSHOT_FORMAT} format`);
  }
  if (d.version !== SNAPSHOT_VERSION) {
    throw new SnapshotError(`snapshot version ${String(d.version)} is not supported (this build reads ${SNAPSHOT_VERSION})`);
  }
  if (typeof d.function !== 'string' || typeof d.options !== 'string' || !Array.isArray(d.groups)) {
    throw new SnapshotError('snapshot lacks function, options or groups');
  }
  for (const g of d.groups) {
    if (!Array.isArray(g) || g.length !== 2 || typeof g[0] !== 'string') {
      throw new SnapshotError('snapshot group entries must be [group, state] pairs');
    }
  }
  return { function: d.function, options: d.options, groups: d.groups as [string, unknown][] };
}
