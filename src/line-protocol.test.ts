import { describe, expect, it } from 'vitest';
import { formatPoint, parseLine } from './line-protocol.js';

describe('line protocol', () => {
  it('round-trips every field type, awkward names and int64 beyond 2^53 exactly', () => {
    const p = {
      name: 'adsl connection,x',
      tags: { 'host name': 'router 1,a=b', path: 'C:\\dir' },
      fieldsDouble: { snr: 6.5 },
      fieldsInt: { big: 9223372036854775807n, neg: -9007199254740993n },
      fieldsString: { value: 'say "hi" \\ bye' },
      fieldsBool: { up: true },
      time: 1514979051065000001n,
    };
    const line = formatPoint(p);
    expect(line).toBe(
      'adsl\\ connection\\,x,host\\ name=router\\ 1\\,a\\=b,path=C:\\dir snr=6.5,big=9223372036854775807i,neg=-9007199254740993i,value="say \\"hi\\" \\\\ bye",up=true 1514979051065000001',
    );
    const back = parseLine(line);
    expect(back).toEqual({
      measurement: p.name,
      tags: p.tags,
      fieldsDouble: p.fieldsDouble,
      fieldsInt: p.fieldsInt,
      fieldsString: p.fieldsString,
      fieldsBool: p.fieldsBool,
      time: p.time,
    });
  });

  it('refuses what line protocol cannot carry or does not say', () => {
    expect(() => formatPoint({ name: 'm', tags: {}, fieldsDouble: { x: NaN }, fieldsInt: {}, fieldsString: {}, fieldsBool: {}, time: 1n })).toThrow(
      /non-finite/,
    );
    expect(() => parseLine('m value="open 1')).toThrow(/unterminated string/);
    expect(() => parseLine('m x=abc 1')).toThrow(/bad field value/);
    expect(parseLine('m x=1u').time).toBeNull();
  });
});
