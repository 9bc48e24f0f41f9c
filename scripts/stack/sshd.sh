#!/usr/bin/env bash
# A real OpenSSH server on loopback playing an ADSL router, for the router feeder's tests. Its own config, host key,
# client key and password live in a run directory; the system's sshd config is never touched. Idempotent.
#
#   scripts/stack/sshd.sh install   apt-get install openssh-server if /usr/sbin/sshd is missing
#   scripts/stack/sshd.sh start     install, prepare the run dir and the test user, start sshd (no-op when running)
#   scripts/stack/sshd.sh stop      stop it
#   scripts/stack/sshd.sh status    exit 0 when it answers
#   scripts/stack/sshd.sh env       KEY=VALUE lines the tests read: port, user, password file, key file, fingerprint
#
# Env: SSHD_PORT (12222), SSHD_RUN_DIR (${UDF_STACK_RUN:-/tmp/udf-sidecar-stack}/sshd), SSHD_USER (udfrouter),
# SSHD_PASSWORD (otherwise a random one, kept in $SSHD_RUN_DIR/password, mode 0600).
# Every session runs scripts/stack/router-sim.sh (ForceCommand); its mode is the file $SSHD_RUN_DIR/sim/mode.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PORT="${SSHD_PORT:-12222}"
RUN="${SSHD_RUN_DIR:-${UDF_STACK_RUN:-/tmp/udf-sidecar-stack}/sshd}"
USER_NAME="${SSHD_USER:-udfrouter}"
SIM="$RUN/sim"

log() { printf '[sshd] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; [ -f "$RUN/sshd.log" ] && tail -n 30 "$RUN/sshd.log" >&2; exit 1; }

install_sshd() {
  [ -x /usr/sbin/sshd ] && return 0
  log "installing openssh-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends openssh-server >/dev/null 2>&1 ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends openssh-server >/dev/null; } ||
    die "apt-get install openssh-server failed"
  # The package enables the system's own sshd on port 22; these tests need only theirs.
  command -v systemctl >/dev/null 2>&1 && systemctl disable --now ssh >/dev/null 2>&1 || true
}

running() {
  [ -f "$RUN/sshd.pid" ] && kill -0 "$(cat "$RUN/sshd.pid")" 2>/dev/null
}

answers() {
  # The server's banner on the port means it accepts connections.
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT && head -c 4 <&3" 2>/dev/null | grep -q SSH-
}

# The test user and its password, re-applied on every start: the run dir's password file is what tests read, so the
# account must match it even if something changed the account since.
ensure_user() {
  if ! id "$USER_NAME" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /bin/sh "$USER_NAME"
  fi
  if [ -n "${SSHD_PASSWORD:-}" ]; then
    printf '%s\n' "$SSHD_PASSWORD" >"$RUN/password"
  elif [ ! -s "$RUN/password" ]; then
    head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$RUN/password"
  fi
  chmod 600 "$RUN/password"
  printf '%s:%s\n' "$USER_NAME" "$(head -n 1 "$RUN/password")" | chpasswd
}

prepare() {
  [ "$(id -u)" = 0 ] || die "must run as root (it authenticates a local test user)"
  mkdir -p "$RUN" "$SIM" /run/sshd
  chmod 755 "$RUN"
  [ -f "$RUN/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C router-sim-host -f "$RUN/ssh_host_ed25519_key"
  [ -f "$RUN/client_key" ] || ssh-keygen -q -t ed25519 -N '' -C router-sim-client -f "$RUN/client_key"
  cp "$RUN/client_key.pub" "$RUN/authorized_keys"
  chmod 644 "$RUN/authorized_keys"
  ssh-keygen -l -E sha256 -f "$RUN/ssh_host_ed25519_key.pub" | awk '{print $2}' >"$RUN/host_key_sha256"

  ensure_user

  # The simulator runs as the test user and consumes $SIM/sequence, so it owns its directory.
  chown "$USER_NAME" "$SIM"
  [ -f "$SIM/mode" ] || echo showtime >"$SIM/mode"
  chmod 644 "$SIM/mode"
  install -m 755 "$HERE/router-sim.sh" "$RUN/router-sim.sh"

  cat >"$RUN/sshd_config" <<CONF
Port $PORT
ListenAddress 127.0.0.1
HostKey $RUN/ssh_host_ed25519_key
PidFile $RUN/sshd.pid
AuthorizedKeysFile $RUN/authorized_keys
# The run dir sits under /tmp, which strict modes would refuse for key files.
StrictModes no
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin no
AllowUsers $USER_NAME
ForceCommand $RUN/router-sim.sh $SIM
PermitTTY no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
MaxStartups 30:50:60
LogLevel INFO
CONF
  /usr/sbin/sshd -t -f "$RUN/sshd_config" || die "sshd rejected $RUN/sshd_config"
}

start() {
  install_sshd
  if running && answers; then
    ensure_user
    log "already running on 127.0.0.1:$PORT"
    return 0
  fi
  prepare
  /usr/sbin/sshd -f "$RUN/sshd_config" -E "$RUN/sshd.log" || die "sshd did not start"
  for _ in $(seq 1 50); do
    answers && { log "listening on 127.0.0.1:$PORT (run dir $RUN)"; return 0; }
    sleep 0.1
  done
  die "sshd started but 127.0.0.1:$PORT does not answer"
}

stop() {
  if running; then
    kill "$(cat "$RUN/sshd.pid")"
    rm -f "$RUN/sshd.pid"
    log "stopped"
  fi
}

print_env() {
  echo "SSHD_PORT=$PORT"
  echo "SSHD_USER=$USER_NAME"
  echo "SSHD_PASSWORD_FILE=$RUN/password"
  echo "SSHD_CLIENT_KEY=$RUN/client_key"
  echo "SSHD_HOST_KEY_SHA256=$(cat "$RUN/host_key_sha256" 2>/dev/null)"
  echo "SSHD_SIM_DIR=$SIM"
}

case "${1:-start}" in
  install) install_sshd ;;
  start) start ;;
  stop) stop ;;
  status) running && answers ;;
  env) print_env ;;
  *) echo "usage: $0 install|start|stop|status|env" >&2; exit 2 ;;
esac
