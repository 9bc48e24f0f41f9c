/** What the tables mean, and what the profiles of the feeders showed; written under the tables on every run. */
export function feederNotes(loadAtStart: number): string {
  return `#### What is measured

- **msgs/s**: messages in the topic ÷ seconds from spawning the process(es) to the first poll (every 250 ms) finding
  the group's committed offsets at the end of all 6 partitions. The feeder commits a partition's offset only past
  chunks whose points InfluxDB accepted and whose dead letters are in \`<topic>.dlq\`, so this is end to end: read,
  filtered, summarised, written, acknowledged, committed. Start-up (Node, group join: about 2–3 s) is inside the
  time, for every variant alike.
- Each run is a fresh consumer group from offset 0 and, for the feeders and Telegraf, a fresh InfluxDB database. The
  counts are checked after every run: the bare consumer counted every message, InfluxDB holds exactly the valid ones
  (each message is a distinct point), the other tenant's were filtered, the unparsable ones are in the dead-letter
  topic, nothing was given up. A wrong count stops the benchmark.
- **CPU s**: user + system seconds of the measured processes (all three feeders together), read from /proc when the
  offsets reached the end; **peak RSS**: the largest VmHWM among them. InfluxDB's own CPU is not in it.
- **bare kafkajs consumer**: \`eachBatch\` that only counts, offsets committed as batches end: what kafkajs itself can
  deliver on this machine. **Telegraf**: \`kafka_consumer\` (json_v2: the same tags and fields, the tenant kept by
  \`tagpass\` after parsing) → \`influxdb_v2\` into the same InfluxDB 1.8, built by \`scripts/bench/telegraf-build.sh\`.
- **Redis**: one pass of the feeder as \`feed redis\` runs it (default families: one SCAN of the keyspace for all 33
  patterns, keys sorted into them on the client, MGET in pipelines of 8 × 100 keys with the next pipeline asked for
  while this one is transformed), once with the points only counted, once as one of three members (\`--shard 1/3\`),
  and once written to InfluxDB and confirmed (\`flush\`) into a database that already holds the series (as every pass
  after a feeder's first). The bare run is one SCAN (COUNT 1000) of every key and the same MGET pipelines, with
  ioredis, in the same process; "of which the SCAN" is its SCAN alone.
- The machine was shared: other engineers were building and testing on its 2 cores while this ran (load average
  ${loadAtStart.toFixed(0)} at the start). Absolute rates are low and drift; the variants are interleaved (the order
  rotated each repetition) and medians are quoted, so compare the ratios of one run, not rates across runs.

#### Where the time goes

**Kafka.** A CPU profile of one feeder (\`npm run bench:feeders -- --messages 200000 --reps 1 --only kafka --variants
feeder1 --feeder-node-arg=--cpu-prof --feeder-node-arg=--cpu-prof-dir=DIR\`; 14,462 msgs/s on that run), the samples
between the first and the last message summarised (start-up and shut-down left out), each given to the first of
these found on its stack:

| share | of wall time | of CPU time |
|---|---:|---:|
| transform: JSON.parse of a ~1.2 KB notification, the summary, the tenant filter | 29% | 32% |
| garbage collection | 19% | 21% |
| writer: batching, HTTP, gzip | 14% | 16% |
| line building | 14% | 15% |
| kafkajs: fetch, record decoding, commits | 13% | 14% |
| other | 3% | 3% |
| idle: waiting for InfluxDB or Kafka | 7% | |

The feeder now computes rather than waits: up to \`chunksInFlight\` (8) chunks of \`batchSize\` (500) messages, of all
partitions, are written at once while the next are read, and offsets are committed in order behind them. Before
that change the same profile was 56% idle (one chunk written, confirmed and committed before the next was read).
What is left is CPU: about 35–45 µs of one core per message (the CPU column ÷ the messages) against 8–13 µs for
the bare consumer (kafkajs's fetch and decoding, which the feeder pays too); Telegraf spends about as much as the
feeder. With InfluxDB on the same 2 cores, three members in one group are no faster than one. Half of it is reading the message (JSON.parse of the whole notification to
read seven paths) and the garbage that makes; a quarter is making and sending the line. More chunks in flight
(32) or bigger writes (5,000 lines) did not change the rate (15,103 / 15,196 / 14,083 msgs/s at 100,000 messages):
nothing waits any more. On 2 shared cores the feeder and InfluxDB also compete for the same CPU: the writer alone,
with prepared points, got 17,000–36,000 points/s accepted by this InfluxDB 1.8 (80,000 points, fresh database), so
InfluxDB's ingest is the next ceiling (800,000 points for 1,000,000 messages). A larger V8 young generation
(\`NODE_OPTIONS=--max-semi-space-size=64\`) cut GC a little (16,357 against 15,103 msgs/s, one run each: within the
noise here).

**Redis.** The pass walked the keyspace once per SCAN pattern (33 times for the default families: a SCAN walks the
whole keyspace whatever its MATCH); it now SCANs once and sorts the keys into the patterns on the client (Redis's glob
rules, a test holds them to Redis's own MATCH), trying each key only against the patterns whose literal prefix it
starts with. Measured apart on the 99,801 keys: that SCAN 0.42–0.47 s, the MGETs 0.42–0.46 s, the transform (JSON.parse,
key pattern, field globs — now tried once per field name, not once per key) 0.45–0.54 s. Of the written pass, almost
all is InfluxDB taking ~100,000 points of up to 13 fields each (about 1,000,000 field values): the pass is done
reading in a few seconds and then waits for InfluxDB's answers.

**Several Redis feeders.** With one Redis there is no way for \`--shard i/n\` members to walk only their share: a SCAN
cursor covers the whole keyspace, a MATCH filters after walking, and a hash split of keys is not a pattern. So each
member walks the whole keyspace once per pass (the "of which the SCAN" row is that price) and reads, transforms and
writes only its third (the \`--shard 1/3\` row). Keys kept in separate Redis databases or instances, or a Redis
Cluster, would let members walk disjoint keyspaces.

#### How to run

\`npm run bench:feeders\` (the defaults above; about 25 minutes on this machine) starts the stack's InfluxDB 1.8, Redis
and Kafka with scripts/stack/start.sh — ports and run dir from the environment, as for the integration tests — and
builds Telegraf on its first run (scripts/bench/telegraf-build.sh, cached under the stack cache; about a minute here
once the module cache was warm). \`--messages 200000 --reps 1 --only kafka --variants bare,feeder1 --out -\` is a quick
look that prints and writes nothing; \`--no-telegraf\` skips the Telegraf runs; \`--batch-size\`,
\`--chunks-in-flight\` and \`--influx-batch-size\` set the feeders' tuning.`;
}
