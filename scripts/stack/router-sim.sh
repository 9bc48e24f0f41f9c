#!/bin/sh
# The "router" behind scripts/stack/sshd.sh: sshd's ForceCommand runs this for every session, whatever the client
# asked, so it answers like the CLI of an ADSL modem. Only `show adsl status` is known; anything else gets the usual
# "% Unknown command". What the line looks like comes from $SIM/mode (one word), or, when $SIM/sequence has lines, from
# its first line, which is then consumed (a test scripts a series of polls that way):
#   showtime  a line in sync, rates and errors varying a little from poll to poll
#   training  the modem retraining: state TRAINING, no rates, SNR not available
#   garbled   line noise and a truncated reply, with no state in it
#   empty     nothing at all
#   slow      a valid reply after $SIM/slow_seconds (default 30): for poll timeouts
# Usage (from sshd_config): ForceCommand /path/router-sim.sh /path/to/sim-dir
SIM="${1:?usage: router-sim.sh SIM_DIR}"

if [ "${SSH_ORIGINAL_COMMAND:-}" != "show adsl status" ]; then
  echo "% Unknown command: ${SSH_ORIGINAL_COMMAND:-<none>}"
  exit 1
fi

mode=""
if [ -s "$SIM/sequence" ]; then
  # mkdir is atomic: two polls at once never take the same line.
  while ! mkdir "$SIM/sequence.lock" 2>/dev/null; do sleep 0.05; done
  mode="$(head -n 1 "$SIM/sequence")"
  tail -n +2 "$SIM/sequence" > "$SIM/sequence.next" && mv "$SIM/sequence.next" "$SIM/sequence"
  rmdir "$SIM/sequence.lock"
fi
[ -n "$mode" ] || mode="$(cat "$SIM/mode" 2>/dev/null || echo showtime)"

# A little variation per poll, so consecutive points differ like real line readings.
n=$(( $(date +%s) % 7 ))

showtime() {
  cat <<OUT
ADSL Status Information:
  Mode             : ADSL2+ (ITU G.992.5 Annex A)
  Status           : SHOWTIME
  Uptime           : 2 days, 03:14:0$n
                        Downstream      Upstream
  Actual Rate      :    16384 kbps      1023 kbps
  Attainable Rate  :    1865$n kbps      1180 kbps
  SNR Margin       :      6.$n dB         12.1 dB
  Line Attenuation :     21.5 dB         11.8 dB
  Output Power     :     19.8 dBm        12.3 dBm
  Interleave Depth :       64              8
  CRC Errors       :      12$n              3
  FEC Errors       :     284$n             12
  HEC Errors       :        0              0
  ES               :       14              2
  SES              :        0              0
  UAS              :       31             31
  Link Retrains    :        $n
OUT
}

case "$mode" in
  showtime) showtime ;;
  training)
    cat <<OUT
ADSL Status Information:
  Mode             : ADSL2+ (ITU G.992.5 Annex A)
  Status           : TRAINING
  Uptime           : 0:00:1$n
                        Downstream      Upstream
  Actual Rate      :        0 kbps         0 kbps
  Attainable Rate  :        0 kbps         0 kbps
  SNR Margin       :      N/A            N/A
  Line Attenuation :     21.6 dB         11.9 dB
  Output Power     :      N/A            N/A
  CRC Errors       :        0              0
  FEC Errors       :        0              0
  Link Retrains    :        $(( n + 1 ))
OUT
    ;;
  garbled)
    printf 'ADSL St\033[2J\377\376atus Inf#@!\n  Mo~~de   :: ADSL2+ (ITU G.99\n  Sta\000tus  \n  Actual Rate      :    16\37784 kb%%ps  10\n+++ATH0 NO CARRIER\n'
    ;;
  empty) ;;
  slow)
    sleep "$(cat "$SIM/slow_seconds" 2>/dev/null || echo 30)"
    showtime
    ;;
  *)
    echo "% router-sim: unknown mode $mode" >&2
    exit 2
    ;;
esac
