#!/usr/bin/env bash
# Record (and optionally apply) a firewall rule: allow or deny one port from one source.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

STEPS="validate record apply"

usage() {
    cat <<EOF
Usage: firewall_rules_management.sh --root DIR --action allow|deny --port PORT
                                    [--proto tcp|udp] [--source CIDR] [--apply] [--rollback]

Keeps one line per (port, proto, source) in DIR/etc/firewall.rules:
  "<allow|deny> <port>/<proto> from <source>"   (a new action replaces the old one)
With --apply, also applies it with ufw (else nft, into table inet filter, chain input) when
running as root; otherwise logs "not applied: ...".

  --root DIR       the Managely root (default $DEFAULT_ROOT)
  --action ACTION  allow or deny
  --port PORT      1-65535
  --proto PROTO    tcp (default) or udp
  --source CIDR    IPv4 a.b.c.d[/n] or IPv6 address[/n] (default any)
  --apply          apply the rule to the running firewall as well
  --rollback       remove the rule's line (and, with --apply, the ufw rule)

Idempotent: a rule is recorded once, however many times it is added.
Steps: $STEPS
Results: rules (how many rules are recorded)
EOF
}

valid_action() { [[ $1 == allow || $1 == deny ]]; }
valid_proto() { [[ $1 == tcp || $1 == udp ]]; }
valid_fw_port() { [[ $1 =~ ^[1-9][0-9]{0,4}$ ]] && ((10#$1 <= 65535)); }
valid_source() {
    local octet='(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
    [[ $1 == any ]] && return 0
    if [[ $1 =~ ^($octet\.){3}$octet(/([0-9]|[12][0-9]|3[0-2]))?$ ]]; then
        return 0
    fi
    # IPv6: hex groups and colons, at most one "::", an optional /0-128.
    [[ $1 =~ ^([0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(/([0-9]|[1-9][0-9]|1[01][0-9]|12[0-8]))?$ ]] \
        || return 1
    local addr=${1%%/*} rest
    rest=${addr#*::}
    [[ $rest != *::* ]]
}

ACTION=
PORT_ARG=
PROTO=tcp
SOURCE=any
APPLY=0
while (($#)); do
    case $1 in
        --action)
            need_value "$@"
            ACTION=$2
            shift 2
            ;;
        --port)
            need_value "$@"
            PORT_ARG=$2
            shift 2
            ;;
        --proto)
            need_value "$@"
            PROTO=$2
            shift 2
            ;;
        --source)
            need_value "$@"
            SOURCE=$2
            shift 2
            ;;
        --apply)
            APPLY=1
            shift
            ;;
        *)
            parse_common "$@"
            shift "$PARSED"
            ;;
    esac
done
setup_root

# --- validate -------------------------------------------------------------------------------
step validate
progress 5
require_option --action action "$ACTION"
require_option --port fw_port "$PORT_ARG"
PORT_ARG=$((10#$PORT_ARG))
require proto "$PROTO"
require source "$SOURCE"

RULES=$ETC/firewall.rules
KEY="$PORT_ARG/$PROTO from $SOURCE"
LINE="$ACTION $KEY"

# --- record ---------------------------------------------------------------------------------
step record
progress 30
mkdir -p "$ETC"
lock firewall
{
    if [[ -f $RULES ]]; then
        while IFS= read -r line || [[ -n $line ]]; do
            # Every other rule stays; this key's line is replaced (or removed on rollback).
            if [[ -n $line && ${line#* } != "$KEY" ]]; then
                printf '%s\n' "$line"
            fi
        done <"$RULES"
    fi
    ((ROLLBACK)) || printf '%s\n' "$LINE"
} | write_atomic "$RULES" 0640
if ((ROLLBACK)); then
    log "rule for $KEY removed (if there was one)"
else
    log "rule recorded: $LINE"
fi

# --- apply ----------------------------------------------------------------------------------
step apply
progress 60
if ((!APPLY)); then
    log "not applied: --apply was not given (recorded only)"
elif ((EUID != 0)); then
    log "not applied: not running as root"
elif command -v ufw >/dev/null 2>&1; then
    from=()
    [[ $SOURCE == any ]] || from=(from "$SOURCE")
    if ((ROLLBACK)); then
        ufw --force delete "$ACTION" proto "$PROTO" ${from[@]+"${from[@]}"} to any port "$PORT_ARG" \
            || log "ufw had no such rule"
    else
        ufw "$ACTION" proto "$PROTO" ${from[@]+"${from[@]}"} to any port "$PORT_ARG"
    fi
    log "applied with ufw"
elif command -v nft >/dev/null 2>&1; then
    if ((ROLLBACK)); then
        log "not applied: remove the nft rule by its handle (nft -a list chain inet filter input)"
    else
        verdict=accept
        [[ $ACTION == allow ]] || verdict=drop
        match=()
        if [[ $SOURCE == *:* ]]; then
            match=(ip6 saddr "$SOURCE")
        elif [[ $SOURCE != any ]]; then
            match=(ip saddr "$SOURCE")
        fi
        nft add rule inet filter input ${match[@]+"${match[@]}"} "$PROTO" dport "$PORT_ARG" "$verdict" \
            || fail "nft could not add the rule (is there a table inet filter with a chain input?)"
        log "applied with nft"
    fi
else
    log "not applied: neither ufw nor nft is installed"
fi

count=0
if [[ -f $RULES ]]; then
    count=$(grep -c . "$RULES" || true)
fi
result rules "$count"
progress 100
