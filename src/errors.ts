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

/**
 * Runs a command body and turns what it throws into the CLI's exit code: 2 for a configuration error (the message
 * names the key and the file), 1 for anything else; the error is logged with its stable code.
 */
export async function exitCodeOf(
  logger: { error(message: string, meta: Record<string, unknown>): unknown },
  run: () => Promise<number>,
): Promise<number> {
  try {
    return await run();
  } catch (err) {
    const e = err as Error & { code?: string };
    logger.error(e.message, { code: e.code });
    return err instanceof ConfigError ? 2 : 1;
  }
}
