/**
 * The field tags of Kapacitor's UDF schema (proto/udf.proto) that the hand-written point codec reads and writes, named
 * once. A tag is (field number << 3) | wire type: 0 a varint, 1 eight bytes, 2 length-delimited.
 *
 *   Request  := 17:point Point                    (every other message: protobufjs, see codec.ts)
 *   Response := 17:point Point                    (the same bytes: a point passed through is its own answer)
 *             | 16:begin BeginBatch | 18:end EndBatch   (told apart from the other Responses by answers-again.ts)
 *   Point    := 1:time int64 | 2:name string | 3:database string | 4:retentionPolicy string | 5:group string
 *             | 6:dimensions string | 7:tags Entry<string> | 8:fieldsDouble Entry<double> | 9:fieldsInt Entry<int64>
 *             | 10:fieldsString Entry<string> | 11:byName bool | 12:fieldsBool Entry<bool>
 *   Entry<V> := 1:key string | 2:value V
 *
 * Fields 16, 17 and 18 take a two-byte tag varint: BeginFrame0, PointFrame0 or EndFrame0, then PointFrame1.
 */

// biome-ignore lint/suspicious/noConstEnum: tsc writes the numbers into the code that uses them, so the hot loops compare literals
export const enum Tag {
  PointFrame0 = 0x8a,
  PointFrame1 = 0x01,
  BeginFrame0 = 0x82,
  EndFrame0 = 0x92,

  Time = 0x08,
  Name = 0x12,
  Database = 0x1a,
  RetentionPolicy = 0x22,
  Group = 0x2a,
  Dimensions = 0x32,
  Tags = 0x3a,
  FieldsDouble = 0x42,
  FieldsInt = 0x4a,
  FieldsString = 0x52,
  ByName = 0x58,
  FieldsBool = 0x62,
  /** Field 0, length-delimited: never valid. */
  FieldZero = 0x02,
}

/** The fields of a map entry. */
// biome-ignore lint/suspicious/noConstEnum: as Tag
export const enum EntryTag {
  Key = 0x0a,
  /** The value of a fieldsDouble entry. */
  Double = 0x11,
  /** The value of a fieldsInt or fieldsBool entry. */
  Varint = 0x10,
  /** The value of a tags or fieldsString entry. */
  String = 0x12,
}
