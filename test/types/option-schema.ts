/**
 * Compile-time tests of the option schema (run by `npm run typecheck`; nothing here runs): each `@ts-expect-error`
 * line must fail to compile, so a spec whose default, maximum or check has another type than its `type` is refused.
 */
import { defineUdf, handler } from '../../src/agent/handler.js';
import { nonEmpty, type OptionSpec, option, positive } from '../../src/agent/options.js';
import { Duration } from '../../src/duration.js';

// @ts-expect-error a duration's default is a Duration, not nanoseconds as a bigint
option.duration({ doc: 'd', default: 1_000_000_000n });
// @ts-expect-error an int's default is a bigint
option.int({ doc: 'n', default: 10 });
// @ts-expect-error a string check on an int
option.int({ doc: 'n', check: nonEmpty });
// @ts-expect-error a double's max is a number
option.double({ doc: 'x', max: 10n });
// @ts-expect-error a bool has no string default
const wrongBool: OptionSpec = { type: 'bool', doc: 'b', default: 'yes' };
// @ts-expect-error a check reads the declared type
const wrongCheck: OptionSpec = { type: 'string', doc: 's', check: (v: bigint) => (v > 0n ? undefined : 'bad') };

export const checked = defineUdf({
  name: 'typed',
  doc: 'the parsed options have the declared types',
  options: {
    field: option.string({ required: true, check: nonEmpty, doc: 'f' }),
    unit: option.duration({ default: Duration.of('1s'), check: positive, doc: 'u' }),
    size: option.int({ check: positive, doc: 's' }),
    tags: option.string({ repeated: true, doc: 't' }),
  },
  create(o) {
    const field: string = o.field;
    const unit: Duration = o.unit;
    const size: bigint | undefined = o.size;
    const tags: string[] = o.tags;
    // @ts-expect-error an option that is neither required nor defaulted may be undefined
    const sure: bigint = o.size;
    return handler({
      state: { version: 1, create: () => ({ n: 0 }), valid: (s: unknown): s is { n: number } => typeof s === 'object' },
      point(_p, s) {
        // @ts-expect-error the state's type is inferred from state.create
        s.m = 1;
        s.n += field.length + unit.nanos + Number(size ?? 0n) + tags.length + Number(sure);
      },
    });
  },
});

export { wrongBool, wrongCheck };
