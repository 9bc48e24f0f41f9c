import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { UDF_SCHEMA } from './schema.js';

describe('the embedded schema', () => {
  it('is what proto/udf.proto parses to (after a change there: node scripts/udf-schema.mjs)', () => {
    const parsed = protobuf.loadSync(fileURLToPath(new URL('../../../proto/udf.proto', import.meta.url)));
    expect(UDF_SCHEMA).toEqual(parsed.toJSON());
  });
});
