/**
 * Process mode (`[udf.functions.X] prog = "udf-sidecar" args = ["run", "X"]`): Kapacitor starts the function as a
 * child and speaks the protocol over its stdin/stdout. Same connection as a socket; logs go to stderr, which
 * Kapacitor copies into its own log.
 */
import type { ServedFunction } from './handler.js';
import { type ConnectionOptions, UdfConnection } from './connection.js';

export async function runStdio(fn: ServedFunction, options: ConnectionOptions = {}): Promise<void> {
  const conn = new UdfConnection(fn, process.stdin, process.stdout, options);
  await conn.closed();
}
