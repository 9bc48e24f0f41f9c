import winston from 'winston';
import { ConfigError } from './errors.js';

/**
 * The one logger. Structured JSON lines on stderr: stdout is reserved for data (the UDF protocol in `run` mode, line
 * protocol with `--stdout`), so a log line can never corrupt it. Level from LOG_LEVEL (default info), read the way
 * operators write it: any case, Kapacitor's and syslog's spellings (`INFO`, `WARNING`, `ERR`). LOG_FORMAT=text gives a
 * human-readable line for terminals. The CLI checks both before it runs a command (checkLogEnv), so a typo is a
 * startup error instead of a silent logger.
 */
export type Logger = winston.Logger;

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** Every accepted spelling, lower case, and the level it means. */
const LEVEL_NAMES: Readonly<Record<string, LogLevel>> = {
  error: 'error',
  err: 'error',
  fatal: 'error',
  crit: 'error',
  critical: 'error',
  warn: 'warn',
  warning: 'warn',
  info: 'info',
  information: 'info',
  notice: 'info',
  debug: 'debug',
  trace: 'debug',
  verbose: 'debug',
};

const FORMATS = ['json', 'text'] as const;

/** The level a LOG_LEVEL value names (empty or unset: info); a ConfigError naming the variable and the choices otherwise. */
export function parseLogLevel(text: string | undefined): LogLevel {
  const key = (text ?? '').trim().toLowerCase();
  if (key === '') return 'info';
  const level = LEVEL_NAMES[key];
  if (level === undefined) {
    throw new ConfigError('LOG_LEVEL', 'env', `unknown log level ${JSON.stringify(text)}: use error, warn, info or debug (any case; also err, warning, trace)`);
  }
  return level;
}

function parseLogFormat(text: string | undefined): (typeof FORMATS)[number] {
  const key = (text ?? '').trim().toLowerCase();
  if (key === '') return 'json';
  const format = FORMATS.find((f) => f === key);
  if (format === undefined) throw new ConfigError('LOG_FORMAT', 'env', `unknown log format ${JSON.stringify(text)}: use json or text`);
  return format;
}

/** Throws the ConfigError for a LOG_LEVEL or LOG_FORMAT that means nothing; the CLI calls it before any command runs. */
export function checkLogEnv(env: NodeJS.ProcessEnv = process.env): void {
  parseLogLevel(env.LOG_LEVEL);
  parseLogFormat(env.LOG_FORMAT);
}

/**
 * A logger for `component`. An explicit `level` must be valid. From the environment, a value that means nothing
 * falls back to info and json here, because loggers are also made while modules load, before the CLI can report
 * anything; checkLogEnv is what refuses it.
 */
export function createLogger(component: string, level?: string): Logger {
  const resolved = level !== undefined ? parseLogLevel(level) : lenient(() => parseLogLevel(process.env.LOG_LEVEL), 'info');
  const text = lenient(() => parseLogFormat(process.env.LOG_FORMAT), 'json') === 'text';
  const format = text
    ? winston.format.combine(
        winston.format.timestamp(),
        winston.format.printf(({ timestamp, level: lvl, message, component: c, ...rest }) => {
          const extra = Object.keys(rest).length ? ' ' + JSON.stringify(rest) : '';
          return `${timestamp} ${lvl} [${c}] ${message}${extra}`;
        }),
      )
    : winston.format.combine(winston.format.timestamp(), winston.format.json());
  return winston.createLogger({
    level: resolved,
    defaultMeta: { component },
    format,
    transports: [new winston.transports.Console({ stderrLevels: Object.keys(winston.config.npm.levels) })],
  });
}

function lenient<T>(parse: () => T, fallback: T): T {
  try {
    return parse();
  } catch {
    return fallback;
  }
}
