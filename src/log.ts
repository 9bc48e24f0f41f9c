import winston from 'winston';

/**
 * The one logger. Structured JSON lines on stderr: stdout is reserved for data (the UDF protocol in `run` mode, line
 * protocol with `--stdout`), so a log line can never corrupt it. Level from LOG_LEVEL (default info); LOG_FORMAT=text
 * gives a human-readable line for terminals.
 */
export type Logger = winston.Logger;

export function createLogger(component: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  const format =
    process.env.LOG_FORMAT === 'text'
      ? winston.format.combine(
          winston.format.timestamp(),
          winston.format.printf(({ timestamp, level: lvl, message, component: c, ...rest }) => {
            const extra = Object.keys(rest).length ? ' ' + JSON.stringify(rest) : '';
            return `${timestamp} ${lvl} [${c}] ${message}${extra}`;
          }),
        )
      : winston.format.combine(winston.format.timestamp(), winston.format.json());
  return winston.createLogger({
    level,
    defaultMeta: { component },
    format,
    transports: [new winston.transports.Console({ stderrLevels: Object.keys(winston.config.npm.levels) })],
  });
}
