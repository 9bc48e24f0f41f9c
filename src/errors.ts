/**
 * The error base of the project. Every error we raise on purpose has a stable `code` (documented in the README's
 * error table) and says whether trying again can help: `retriable` is false unless the failure is known to be
 * transient (a network timeout, a 5xx, a broker that is electing a leader), so a retry loop never spins on a bug.
 */
export class SidecarError extends Error {
  readonly code: string;
  readonly retriable: boolean;

  constructor(code: string, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** A configuration value is missing or wrong; `key` and `source` (a file path, `env`, or `argv`) say where. */
export class ConfigError extends SidecarError {
  constructor(
    readonly key: string,
    readonly source: string,
    message: string,
  ) {
    super('CONFIG_INVALID', `${source}: ${key}: ${message}`);
  }

  /** Several problems of one file as one error (one line), so a user fixes them in one go. */
  static all(errors: readonly ConfigError[]): ConfigError {
    if (errors.length === 1) return errors[0];
    const first = errors[0];
    const e = new ConfigError(first.key, first.source, '');
    e.message = `${first.source}: ${errors.map((x) => x.message.slice(x.source.length + 2)).join('; ')}`;
    return e;
  }
}

/** A command-line argument is wrong: the message names the flag and what it takes. */
export class UsageError extends SidecarError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

/**
 * Every stable code, its exit status and what it means: the catalogue docs/errors.md shows (a unit test keeps the two
 * and the codes raised in src/ in step). Exit 2: what was given is wrong (config, flag, path, input file) — fix it
 * and run again. Exit 1: something failed while running (a server, a port, a task) — retrying later may work.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: { exit: 2, meaning: 'a config key, value or file is wrong; the message names the key and the file' },
  USAGE: { exit: 2, meaning: 'a command-line argument is wrong or missing; the message names it' },
  PATH_INVALID: { exit: 2, meaning: 'a path given is missing, of the wrong kind (a file for a directory) or not accessible; the message names it' },
  INPUT_INVALID: { exit: 2, meaning: 'an input file (line protocol, a recording) cannot be read; the message gives the file and the line' },
  UDF_OPTION: { exit: 2, meaning: 'a function option is wrong (replay -o, or a TICKscript option)' },
  PORT_IN_USE: { exit: 1, meaning: 'a port to listen on is taken: pick another, or stop what holds it' },
  LISTEN_FAILED: { exit: 1, meaning: 'an address to listen on cannot be used (not an address of this machine, or not allowed)' },
  SERVER_UNREACHABLE: { exit: 1, meaning: 'a server (Redis, Kafka, InfluxDB, Kapacitor) did not answer at the address named' },
  ROUTER_SSH: { exit: 1, meaning: 'an SSH connection or command on a router failed' },
  ROUTER_HOST_KEY: { exit: 1, meaning: 'a router presented a host key other than hostKeySha256; the message gives the one presented' },
  ROUTER_TIMEOUT: { exit: 1, meaning: 'a router did not answer within the timeout' },
  KAFKA_REFUSED: { exit: 1, meaning: 'Kafka refused the feeder: its certificate was not verified (kafka.ssl.ca) or the SASL login failed' },
  KAFKA_CONSUMER_CRASHED: { exit: 1, meaning: 'kafkajs gave up on the consumer; the supervisor should restart the feeder' },
  KAFKA_TOPIC_NOT_READY: { exit: 1, meaning: 'a topic was created, but its partitions had no leader in time' },
  INFLUX_API: { exit: 1, meaning: 'an InfluxDB API call failed' },
  INFLUX_UNREACHABLE: { exit: 1, meaning: 'nothing that answers as InfluxDB 2 at influxdb.url (down, InfluxDB 1.x, or another server)' },
  INFLUX_NOT_INFLUXDB: { exit: 1, meaning: 'influxdb.url answers, but not as InfluxDB (another server, e.g. Kapacitor)' },
  INFLUX_NOT_V2: { exit: 1, meaning: 'influxdb.url is InfluxDB 1.x: influx setup is for InfluxDB 2.x' },
  INFLUX_UNAUTHORIZED: { exit: 1, meaning: 'InfluxDB refused the operator token (HTTP 401)' },
  TOKEN_FILE_UNWRITTEN: { exit: 1, meaning: 'influx setup could not write the token file; the new tokens were printed once on stdout instead' },
  INFLUX_ORG_NOT_FOUND: { exit: 1, meaning: 'the org does not exist or the token cannot see it' },
  INFLUX_QUERY: { exit: 1, meaning: 'an InfluxQL query (database discovery) failed' },
  INFLUX_WRITE_REJECTED: { exit: 1, meaning: 'InfluxDB refused points (4xx: a bad token, a type conflict)' },
  INFLUX_WRITE_DROPPED: { exit: 1, meaning: 'points were given up after retries or because the retry buffer was full' },
  KAPACITOR_API: { exit: 1, meaning: 'a Kapacitor API call failed' },
  KAPACITOR_SYNC: { exit: 1, meaning: 'kapacitor sync failed part way; the message says whether every change was undone' },
  KAPACITOR_TASK_FAILED: { exit: 1, meaning: 'a task Kapacitor accepted did not start' },
  UDF_FRAME: { exit: 1, meaning: 'a UDF connection sent a frame over the limit or a bad length prefix (ends that connection only)' },
  UDF_DECODE: { exit: 1, meaning: 'a UDF request could not be decoded (ends that connection only)' },
  UDF_PROTOCOL: { exit: 1, meaning: 'a UDF request came out of order (ends that connection only)' },
  UDF_SNAPSHOT: { exit: 1, meaning: 'a snapshot to restore is not one this sidecar wrote' },
  UDF_SOCKET_PATH: { exit: 1, meaning: 'a socket path holds a file, a directory or a live socket: it is never replaced' },
  POINTS_LOST: { exit: 1, meaning: 'points were read but not written to InfluxDB; the line gives the count per reason' },
  INFLUX_WRITE_ABORTED: { exit: 1, meaning: 'a write still being retried when the feeder stopped' },
  ROUTER_NOTHING_READ: { exit: 1, meaning: 'a router --once run in which every poll failed' },
  UDF_MEMORY: { exit: 1, meaning: 'a task needs more memory than its connection may keep (--max-connection-memory), even with its other groups evicted' },
  UDF_STATE_FILE: { exit: 1, meaning: 'a task state file in the state dir is damaged: it is moved aside and the task starts fresh' },
  STATE_DIR: { exit: 2, meaning: 'the --state-dir given cannot be created or written' },
  INTERNAL: { exit: 1, meaning: 'an unexpected failure; the message says what failed (please report it)' },
} as const satisfies Record<string, { exit: 1 | 2; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** What to do about a system error, by errno code: the second half of a one-line message. */
const SYSTEM_HINTS: Record<string, string> = {
  ENOENT: 'no such file or directory: check the path',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EISDIR: 'is a directory: give a file',
  EEXIST: 'exists and is not a directory: give a directory, or remove the file',
  EACCES: 'permission denied: check the owner and mode, or run as a user that may',
  EPERM: 'operation not permitted: check the owner and mode',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EADDRINUSE: 'address in use: pick another port, or stop what holds it',
  EADDRNOTAVAIL: 'not an address of this machine',
  ECONNREFUSED: 'connection refused: is the server running at that address?',
  ECONNRESET: 'connection reset by the server',
  ETIMEDOUT: 'timed out: is the address right and reachable?',
  ENOTFOUND: 'host name not found: check the address',
  EAI_AGAIN: 'host name lookup failed (temporary): check DNS and the address',
};

/**
 * A system error (ENOENT on a path, ECONNREFUSED to an address) as one line naming the thing and the fix, or
 * undefined when `err` is not one.
 */
export function describeSystemError(err: unknown): string | undefined {
  const reason = systemReason(err);
  if (reason === undefined) return undefined;
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string };
  const what = e.path ?? (e.address !== undefined ? `${e.address}${e.port !== undefined ? `:${e.port}` : ''}` : e.hostname);
  return `${what !== undefined ? `${what}: ` : ''}${reason}`;
}

/** The reason and fix of a system error without the thing it is about (the caller names it), or undefined. */
export function systemReason(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException;
  if (typeof e !== 'object' || e === null || typeof e.code !== 'string' || !/^E[A-Z_]+$/.test(e.code)) return undefined;
  const hint = SYSTEM_HINTS[e.code] ?? e.message.replace(/^\w+ E[A-Z_]+:?\s*/, '').replace(/,? \w+ '.*'$/, '');
  return `${hint} (${e.code})`;
}

const FILE_ERRORS = new Set(['ENOENT', 'ENOTDIR', 'EISDIR', 'EEXIST', 'EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'ELOOP', 'ENAMETOOLONG']);

/** The code, exit status and one-line message of anything a command throws: the CLI's one exit path uses this. */
export function classify(err: unknown): { code: string; exit: number; message: string } {
  if (err instanceof SidecarError) {
    const known = (ERROR_CODES as Record<string, { exit: number }>)[err.code];
    return { code: err.code, exit: known?.exit ?? 1, message: oneLine(err.message) };
  }
  const system = describeSystemError(err);
  const e = err as NodeJS.ErrnoException;
  if (system !== undefined) {
    const code =
      e.path !== undefined || FILE_ERRORS.has(e.code!)
        ? 'PATH_INVALID'
        : e.code === 'EADDRINUSE'
          ? 'PORT_IN_USE'
          : /^E(CONN|HOST|NET|TIMEDOUT|NOTFOUND|AI_)/.test(e.code!)
            ? 'SERVER_UNREACHABLE'
            : 'INTERNAL';
    return { code, exit: ERROR_CODES[code].exit, message: system };
  }
  const message = err instanceof Error ? err.message || err.name : String(err);
  return { code: 'INTERNAL', exit: ERROR_CODES.INTERNAL.exit, message: oneLine(message) };
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * Runs a command body and turns what it throws into the CLI's exit code (see ERROR_CODES); the error is logged as
 * one line with its stable code, never with a stack.
 */
export async function exitCodeOf(logger: { error(message: string, meta: Record<string, unknown>): unknown }, run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (err) {
    const { code, exit, message } = classify(err);
    logger.error(message, { code });
    return exit;
  }
}
