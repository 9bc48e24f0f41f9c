import { InvalidArgumentError } from 'commander';
import { parseDuration } from './duration.js';

/** A duration option (`90s`, `2m`) as whole milliseconds, at least 1ms; a bare number or a typo is a usage error. */
export function durationMsArg(name: string) {
  return (v: string): number => {
    let ns: bigint;
    try {
      ns = parseDuration(v);
    } catch {
      throw new InvalidArgumentError(`${name} ${v} is not a duration: write it with a unit, like 2m or 90s`);
    }
    if (ns < 1_000_000n) throw new InvalidArgumentError(`${name} must be at least 1ms`);
    return Number(ns / 1_000_000n);
  };
}
