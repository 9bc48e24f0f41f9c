/** What the tables mean, and what the profiles of the feeder showed; written under the tables on every run. */
export function feederNotes(loadAtStart: number): string {
  return `#### What is measured

- **msgs/s**: messages in the topic ÷ seconds from spawning the process(es) to the first poll (every 250 ms) finding
  the group's committed offsets at the end of all 6 partitions. The feeder commits a chunk only after InfluxDB
  accepted its points and its dead letters are in \`<topic>.dlq\`, so this is end to end: read, filtered, summarised,
  written, acknowledged, committed. Start-up (Node, group join) is inside the time, for every variant alike.
- Each run is a fresh consumer group from offset 0 and, for the feeders and Telegraf, a fresh InfluxDB database. The
  counts are checked after every run: the bare consumer counted every message, InfluxDB holds exactly the valid ones
  (each message is a distinct point), the other tenant's were filtered, the unparsable ones are in the dead-letter
  topic, nothing was given up. A wrong count stops the benchmark.
- **CPU s**: user + system seconds of the measured processes (all three feeders together), read from /proc when the
  offsets reached the end; **peak RSS**: the largest VmHWM among them.
- **bare kafkajs consumer**: \`eachBatch\` that only counts, offsets committed as batches end: what kafkajs itself can
  deliver on this machine. **Telegraf**: \`kafka_consumer\` (json_v2: the same tags and fields, the tenant kept by
  \`tagpass\` after parsing) → \`influxdb_v2\` into the same InfluxDB 1.8, built by \`scripts/bench/telegraf-build.sh\`.
- **Redis**: one pass of the feeder as \`feed redis\` runs it (default families: one SCAN per shard, 33 SCANs of the
  whole keyspace for 8 families, MGET in pipelines of 8 × 100 keys, the transform), once with the points only
  counted and once written to InfluxDB and confirmed (\`flush\`); the bare run is one SCAN (COUNT 1000) of every
  key and the same MGET pipelines, with ioredis, in the same process.
- The machine was shared: 8 engineers were building and testing on its 2 cores while this ran (load average
  ${loadAtStart.toFixed(0)} at the start). Absolute rates are low and drift; the variants are interleaved (the order
  rotated each repetition) and medians are quoted, so compare the ratios of one run, not rates across runs.

#### Where the time goes

A CPU profile of one feeder (\`npm run bench:feeders -- --messages 200000 --reps 1 --only kafka
--feeder-node-arg=--cpu-prof --feeder-node-arg=--cpu-prof-dir=DIR\`), each sample given to the first of these found
on its stack:

| share | of wall time | of CPU time |
|---|---:|---:|
| idle: waiting for InfluxDB's answer and Kafka's commit, one chunk at a time | 56% | |
| transform: JSON.parse of a ~1.2 KB notification, the summary | 9% | 21% |
| writer: tickets, the client's batching, gzip, HTTP | 11% | 25% |
| kafkajs: fetch, record decoding, commits | 6% | 14% |
| line building (then through the client's Point) | 6% | 14% |
| garbage collection | 5% | 11% |
| start-up (loading modules) | 5% | 11% |

The feeder is mostly waiting, not computing. Each kafkajs batch (≤ 1 MB per partition, ~800 of these messages) is
cut in chunks of \`batchSize\`; a chunk is written, its confirmation awaited, its offset committed, and only then is the
next chunk — of the same or another partition — begun: kafkajs hands this feeder one partition at a time
(\`partitionsConsumedConcurrently\` 1), so an InfluxDB round trip and a Kafka commit per chunk are paid in series.
A larger \`batchSize\` did not measurably help (5,000: 7,835 and 11,490 msgs/s against 10,980 at 500, 200,000
messages): a chunk cannot be larger than the fetched batch. Of the CPU, JSON.parse
is most of the transform (a notification is parsed whole to read seven paths). Line building now writes each line
as one string with the client's escaping instead of a Point object per line (about a fifth faster in isolation, the
same lines: a differential test holds it to the client's Point). The loop itself — chunking, waiting, committing,
consuming partitions one at a time — is src/feeders/kafka/feeder.ts, changed on another branch (one delivery path);
overlapping the writes of different partitions is where the missing throughput is. Tried on a copy of this build
(not committed: that file is not this branch's), kafkajs's \`partitionsConsumedConcurrently: 6\` gave 5,756 and 15,996
msgs/s against 6,703 and 7,112 without it (150,000 messages, interleaved, 2 runs each): too noisy on this machine to
call, worth measuring on a quiet one together with the new delivery path.

Redis: the pass is SCAN-bound. Each of the 33 shard patterns of the default families (24 busplug shards, 3 IRC
shards, one per other family) is its own SCAN, and a SCAN walks the whole keyspace whatever its MATCH, so a pass walks
100,000 keys 33 times where the bare run walks them once. Measured apart on the same 99,801 keys (3 runs): the 33
SCANs 9.2–14.1 s, MGET (and TYPE for the nil ones) of every listed key 0.4–1.2 s, one SCAN of everything 0.6–1.0 s.
Written and confirmed, a pass adds InfluxDB 1.8 taking ~100,000 points of up to 13 fields each, which on this loaded
machine was most of the time. One SCAN per pass with the keys sorted into families and shards on the client (and
the \`--shard i/n\` split of the keyspace, on another branch) is what would bring a pass near the bare one; the
shards exist to bound how many keys one MGET round holds, which a client-side split keeps.

#### How to run

\`npm run bench:feeders\` (the defaults above; about 35 minutes on this machine) starts the stack's InfluxDB 1.8, Redis
and Kafka with scripts/stack/start.sh — ports and run dir from the environment, as for the integration tests — and
builds Telegraf on its first run (scripts/bench/telegraf-build.sh, cached under the stack cache; about a minute here
once the module cache was warm). \`--messages 200000 --reps 1 --only kafka --variants bare,feeder1 --out -\` is a quick
look that prints and writes nothing; \`--no-telegraf\` skips the Telegraf runs.`;
}
