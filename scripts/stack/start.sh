#!/usr/bin/env bash
# Starts one of the test servers on 127.0.0.1 and waits until it answers:
#
#   scripts/stack/start.sh influxdb|redis|kafka|influxdb2|all
#
# Run dir: ${UDF_STACK_RUN:-/tmp/udf-sidecar-stack}/<service> (config, data, pid, log). Data survive stop/start.
# Idempotent: a running, healthy server is left alone. The binaries come from install.sh (run first if missing).
# Ports: INFLUXDB_PORT (18086, rpc INFLUXDB_BIND_PORT 18088), REDIS_PORT (16379), KAFKA_PORT (29092, controller
# KAFKA_CONTROLLER_PORT 29093, SASL_SSL KAFKA_SASL_SSL_PORT 29094), INFLUXDB2_PORT (18087). On failure: exit 1 with the server's log tail on stderr.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

# wait_ready NAME PIDFILE LOG TIMEOUT_S CHECK...: polls CHECK until it succeeds; fails if the process dies or time runs out.
wait_ready() {
  local name="$1" pf="$2" log="$3" timeout="$4"; shift 4
  local deadline=$(( $(date +%s) + timeout ))
  while :; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if ! stack_pid_alive "$pf"; then
      stack_tail "$log" 60
      stack_die "$name exited during start-up (log: $log)"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      stack_tail "$log" 60
      stack_die "$name did not become ready within ${timeout}s (log: $log)"
    fi
    sleep 0.3
  done
}

# already_running NAME PIDFILE LOG CHECK...: 0 when our server runs and answers (waiting for one still starting).
already_running() {
  local name="$1" pf="$2" log="$3"; shift 3
  if stack_pid_alive "$pf"; then
    wait_ready "$name" "$pf" "$log" 90 "$@"
    stack_log "$name: already running (pid $(cat "$pf"))"
    return 0
  fi
  if "$@" >/dev/null 2>&1; then
    stack_log "$name: something not started by this script already answers on its port; using it"
    return 0
  fi
  return 1
}

# spawn PIDFILE LOG CMD...: starts CMD detached (own session, so a test runner's process group signals miss it).
spawn() {
  local pf="$1" log="$2"; shift 2
  echo "=== $(date -u +%FT%TZ) start: $*" >>"$log"
  # fd 8 holds the start lock: the server must not inherit it.
  setsid nohup "$@" >>"$log" 2>&1 </dev/null 8>&- &
  echo $! >"$pf"
}

ensure_installed() { # COMPONENT FILE
  [ -e "$2" ] || bash "$HERE/install.sh" "$1" >&2
}

start_influxdb() {
  local d="$UDF_STACK_RUN/influxdb" pf log conf
  pf="$d/influxd.pid"; log="$d/influxd.log"; conf="$d/influxdb.conf"
  mkdir -p "$d"
  local url="http://127.0.0.1:$INFLUXDB_PORT/ping"
  already_running influxdb "$pf" "$log" stack_http_ok "$url" && return 0
  ensure_installed influxdb "$INFLUXDB_BIN_DIR/.installed"
  cat >"$conf" <<EOF
# Written by scripts/stack/start.sh on every start.
reporting-disabled = true
bind-address = "127.0.0.1:$INFLUXDB_BIND_PORT"

[meta]
  dir = "$d/meta"

[data]
  dir = "$d/data"
  wal-dir = "$d/wal"
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:$INFLUXDB_PORT"
  auth-enabled = false
  flux-enabled = true
  log-enabled = false

[subscriber]
  enabled = true

[continuous_queries]
  enabled = true
  log-enabled = false
EOF
  stack_log "influxdb: starting on 127.0.0.1:$INFLUXDB_PORT (run dir $d)"
  spawn "$pf" "$log" "$INFLUXDB_BIN_DIR/influxd" run -config "$conf"
  wait_ready influxdb "$pf" "$log" 60 stack_http_ok "$url"
  stack_log "influxdb: ready (pid $(cat "$pf"))"
}

start_influxdb2() {
  local d="$UDF_STACK_RUN/influxdb2" pf log
  pf="$d/influxd.pid"; log="$d/influxd.log"
  mkdir -p "$d"
  local url="http://127.0.0.1:$INFLUXDB2_PORT/health"
  already_running influxdb2 "$pf" "$log" stack_http_ok "$url" && return 0
  ensure_installed influxdb2 "$INFLUXDB2_BIN_DIR/.installed"
  stack_log "influxdb2: starting on 127.0.0.1:$INFLUXDB2_PORT (run dir $d)"
  # INFLUXD_CONFIG_PATH keeps it away from any config in the working directory or ~/.influxdbv2.
  INFLUXD_CONFIG_PATH="$d/config" spawn "$pf" "$log" "$INFLUXDB2_BIN_DIR/influxd" \
    --http-bind-address "127.0.0.1:$INFLUXDB2_PORT" \
    --bolt-path "$d/influxd.bolt" --engine-path "$d/engine" --sqlite-path "$d/influxd.sqlite" \
    --reporting-disabled --log-level warn
  wait_ready influxdb2 "$pf" "$log" 90 stack_http_ok "$url"
  stack_log "influxdb2: ready (pid $(cat "$pf"))"
}

redis_ping() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

start_redis() {
  local d="$UDF_STACK_RUN/redis" pf log
  pf="$d/redis.pid"; log="$d/redis.log"
  mkdir -p "$d"
  if command -v redis-cli >/dev/null; then
    already_running redis "$pf" "$log" redis_ping && return 0
  fi
  command -v redis-server >/dev/null || bash "$HERE/install.sh" redis >&2
  stack_log "redis: starting on 127.0.0.1:$REDIS_PORT (run dir $d)"
  # In the foreground under spawn (not --daemonize) so the pid file is ours from the first moment.
  spawn "$pf" "$log" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$d" --protected-mode yes
  wait_ready redis "$pf" "$log" 30 redis_ping
  stack_log "redis: ready (pid $(cat "$pf"))"
}

kafka_ready() {
  node "$HERE/kafka-ready.mjs" 127.0.0.1 "$KAFKA_PORT" && (exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_SASL_SSL_PORT") 2>/dev/null
}

# kafka_secure_material DIR LOG: the SASL_SSL listener's files, generated once and kept across restarts:
# DIR/tls/{ca.pem,ca.key,broker.pem,broker.key,broker.p12,keystore-password} (a test CA and a broker certificate for
# IP:127.0.0.1 / DNS:localhost, as a PKCS12 keystore) and DIR/sasl-password (the test user's password). 0600 but ca.pem.
kafka_secure_material() {
  local d="$1" log="$2" t="$1/tls"
  if [ ! -s "$t/broker.p12" ]; then
    command -v openssl >/dev/null || { apt-get install -y openssl >&2 || stack_die "kafka: openssl missing (apt-get install openssl)"; }
    rm -rf "$t"; mkdir -p "$t"
    if ! (
      set -e; umask 077; cd "$t"
      openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=udf-sidecar test CA" -keyout ca.key -out ca.pem \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
      openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout broker.key -out broker.csr
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >broker.ext
      openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -out broker.pem -extfile broker.ext
      head -c 18 /dev/urandom | base64 | tr '+/' '-_' >keystore-password
      openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker \
        -passout file:keystore-password -out broker.p12.tmp
      mv broker.p12.tmp broker.p12
      chmod 644 ca.pem
    ) >>"$log" 2>&1; then
      stack_tail "$log" 30
      stack_die "kafka: generating the TLS certificates failed"
    fi
    stack_log "kafka: generated a test CA and broker certificate in $t"
  fi
  [ -s "$d/sasl-password" ] || (umask 077; head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$d/sasl-password")
}

# kafka_scram_user DIR JAVA_OPTS...: gives KAFKA_SASL_USER a SCRAM-SHA-256 credential (stored in the cluster metadata)
# through the PLAINTEXT listener, once per password (marker DIR/.scram-user). Kafka 3.x only (kafka.admin.ConfigCommand).
kafka_scram_user() {
  local d="$1"; shift
  local want; want="$KAFKA_SASL_USER:$(sha256sum <"$d/sasl-password" | cut -c1-16)"
  [ "$(cat "$d/.scram-user" 2>/dev/null)" = "$want" ] && return 0
  local pw out; pw="$(cat "$d/sasl-password")"
  # The password is an argument for a moment (the test machine only); the tool's output is logged with it masked.
  if out="$(java "$@" -cp "$KAFKA_LIB_DIR/*" kafka.admin.ConfigCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" \
    --alter --entity-type users --entity-name "$KAFKA_SASL_USER" --add-config "SCRAM-SHA-256=[password=$pw]" 2>&1 </dev/null)"; then
    echo "$want" >"$d/.scram-user"
  else
    stack_log "kafka: WARNING: could not add the SCRAM-SHA-256 user (PLAIN still works); see $d/kafka.log"
  fi
  printf '%s\n' "${out//"$pw"/***}" >>"$d/kafka.log"
}

start_kafka() {
  local d="$UDF_STACK_RUN/kafka" pf log props
  pf="$d/kafka.pid"; log="$d/kafka.log"; props="$d/server.properties"
  mkdir -p "$d"
  # A broker started before the SASL_SSL listener existed (older start.sh): restart it with the current config.
  if stack_pid_alive "$pf" && ! grep -q "^listeners=.*SASL_SSL://127.0.0.1:$KAFKA_SASL_SSL_PORT" "$props" 2>/dev/null; then
    stack_log "kafka: running without the SASL_SSL listener on $KAFKA_SASL_SSL_PORT: restarting it"
    bash "$HERE/stop.sh" kafka
  fi
  already_running kafka "$pf" "$log" kafka_ready && return 0
  ensure_installed kafka "$KAFKA_LIB_DIR/.installed"
  kafka_secure_material "$d" "$log"
  local sasl_pw ks_pw
  sasl_pw="$(cat "$d/sasl-password")"; ks_pw="$(cat "$d/tls/keystore-password")"
  # The file holds the keystore and SASL passwords: readable by us only.
  (umask 077; : >"$props")
  cat >"$props" <<EOF
# Written by scripts/stack/start.sh on every start: single-node KRaft, 127.0.0.1 only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT,SASL_SSL://127.0.0.1:$KAFKA_SASL_SSL_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,SASL_SSL://127.0.0.1:$KAFKA_SASL_SSL_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL
# SASL_SSL: TLS with the run dir's test CA; SASL PLAIN (user below) and SCRAM-SHA-256 (added after start).
ssl.keystore.type=PKCS12
ssl.keystore.location=$d/tls/broker.p12
ssl.keystore.password=$ks_pw
ssl.client.auth=none
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$KAFKA_SASL_USER="$sasl_pw";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
log.dirs=$d/data
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
log.flush.interval.messages=10000
EOF
  cat >"$d/log4j.properties" <<EOF
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
EOF
  cat >"$d/log4j2.properties" <<EOF
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = STDOUT
logger.raft.name = kafka.server.KafkaRaftServer
logger.raft.level = info
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = info
EOF
  # log4j.properties serves Kafka 3.x (reload4j), log4j2.properties Kafka 4.x (log4j 2).
  local java_opts=(-Xms128m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
    "-Dlog4j.configuration=file:$d/log4j.properties" "-Dlog4j2.configurationFile=$d/log4j2.properties"
    "-Dkafka.logs.dir=$d/logs")
  if [ ! -f "$d/data/meta.properties" ]; then
    # A KRaft cluster id is 16 random bytes in URL-safe base64 without padding (what `StorageTool random-uuid` prints).
    local cid
    cid="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
    stack_log "kafka: formatting storage (cluster id $cid)"
    if ! java "${java_opts[@]}" -cp "$KAFKA_LIB_DIR/*" kafka.tools.StorageTool format -t "$cid" -c "$props" \
      >>"$log" 2>&1 </dev/null; then
      stack_tail "$log" 40
      stack_die "kafka: storage format failed"
    fi
  fi
  stack_log "kafka: starting on 127.0.0.1:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT, run dir $d)"
  spawn "$pf" "$log" java "${java_opts[@]}" -cp "$KAFKA_LIB_DIR/*" kafka.Kafka "$props"
  wait_ready kafka "$pf" "$log" 120 kafka_ready
  [[ "$KAFKA_VERSION" == 3.* ]] && kafka_scram_user "$d" "${java_opts[@]}"
  stack_log "kafka: ready (pid $(cat "$pf"); SASL_SSL on $KAFKA_SASL_SSL_PORT, user $KAFKA_SASL_USER, password in $d/sasl-password)"
}

[ $# -ge 1 ] || { sed -n '2,9p' "$0"; exit 2; }
mkdir -p "$UDF_STACK_RUN"
for svc in "$@"; do
  case "$svc" in
    all) for s in influxdb redis kafka; do bash "$0" "$s"; done ;;
    influxdb|redis|kafka|influxdb2)
      # One start at a time per service (tests in several workers may ask together).
      (
        mkdir -p "$UDF_STACK_RUN/$svc"
        exec 8>"$UDF_STACK_RUN/$svc/.start.lock"
        flock 8
        "start_$svc"
      ) ;;
    *) stack_die "unknown service '$svc' (influxdb|redis|kafka|influxdb2|all)" ;;
  esac
done
