#!/usr/bin/env bash
# Issue a TLS certificate for a domain: self-signed (openssl) or Let's Encrypt (certbot).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

STEPS="check_domain issue_certificate"

usage() {
    cat <<EOF
Usage: ssl_certificate_generation.sh --root DIR --domain DOMAIN [--mode self-signed|acme]
                                     [--email EMAIL] [--webroot DIR] [--rollback]

Writes DIR/certs/DOMAIN/fullchain.pem and privkey.pem (mode 600).
  self-signed  openssl, RSA 2048, 90 days, CN and subjectAltName DNS:DOMAIN
  acme         certbot certonly --webroot (needs certbot on PATH, DOMAIN pointing here and
               the webroot served at http://DOMAIN/.well-known/acme-challenge/)

  --root DIR        the Managely root (default $DEFAULT_ROOT)
  --domain DOMAIN   lowercase DNS name (labels 1-63 [a-z0-9-], two labels or more, <= 253)
  --mode MODE       self-signed (default) or acme
  --email EMAIL     the ACME account's e-mail (acme only; optional)
  --webroot DIR     the ACME challenge webroot (default DIR/www/acme)
  --rollback        remove DIR/certs/DOMAIN

Idempotent: a certificate for DOMAIN valid for 30 more days is kept.
Steps: $STEPS
Results: cert_path, expires
EOF
}

valid_domain() {
    local label='[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?'
    ((${#1} <= 253)) && [[ $1 =~ ^($label\.)+$label$ ]]
}
valid_mode() { [[ $1 == self-signed || $1 == acme ]]; }
valid_email() {
    [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(.+)$ ]] && valid_domain "${BASH_REMATCH[1]}"
}

DOMAIN=
MODE=self-signed
EMAIL=
WEBROOT=
while (($#)); do
    case $1 in
        --domain)
            need_value "$@"
            DOMAIN=$2
            shift 2
            ;;
        --mode)
            need_value "$@"
            MODE=$2
            shift 2
            ;;
        --email)
            need_value "$@"
            EMAIL=$2
            shift 2
            ;;
        --webroot)
            need_value "$@"
            WEBROOT=$2
            shift 2
            ;;
        *)
            parse_common "$@"
            shift "$PARSED"
            ;;
    esac
done
setup_root
require_option --domain domain "$DOMAIN"
require mode "$MODE"
[[ -z $EMAIL ]] || require email "$EMAIL"
[[ -n $WEBROOT ]] || WEBROOT=$ROOT/www/acme
require root "$WEBROOT"

CERTS=$ROOT/certs/$DOMAIN
CERT=$CERTS/fullchain.pem
KEY=$CERTS/privkey.pem

if ((ROLLBACK)); then
    step issue_certificate
    rm -rf -- "${ROOT:?}/certs/$DOMAIN"
    log "removed the certificate of $DOMAIN (if there was one)"
    progress 100
    exit 0
fi

# --- check_domain ---------------------------------------------------------------------------
step check_domain
progress 10
command -v openssl >/dev/null 2>&1 || fail "openssl is not installed"
if [[ $MODE == acme ]]; then
    command -v certbot >/dev/null 2>&1 \
        || fail "certbot is not installed: install it (apt-get install certbot) or use --mode self-signed"
fi
lock "cert-$DOMAIN"

# --- issue_certificate ----------------------------------------------------------------------
step issue_certificate
progress 30
mkdir -p "$CERTS"
chmod 0750 "$CERTS"
current_ok() {
    [[ -f $CERT && -f $KEY ]] || return 1
    openssl x509 -in "$CERT" -noout -checkend 2592000 >/dev/null 2>&1 || return 1
    openssl x509 -in "$CERT" -noout -subject -nameopt RFC2253 2>/dev/null \
        | grep -qxF "subject=CN=$DOMAIN"
}
if current_ok && [[ $MODE == self-signed ]]; then
    log "a certificate for $DOMAIN valid for 30 more days exists: kept"
elif [[ $MODE == self-signed ]]; then
    tmp_key=$(mktemp "$CERTS/.privkey.XXXXXX")
    tmp_cert=$(mktemp "$CERTS/.fullchain.XXXXXX")
    cleanup() { rm -f -- "$tmp_key" "$tmp_cert"; }
    chmod 0600 "$tmp_key"
    openssl req -x509 -newkey rsa:2048 -nodes -days 90 -subj "/CN=$DOMAIN" \
        -addext "subjectAltName=DNS:$DOMAIN" -keyout "$tmp_key" -out "$tmp_cert" 2>/dev/null \
        || fail "openssl could not create the certificate"
    chmod 0600 "$tmp_key"
    chmod 0644 "$tmp_cert"
    mv -f -- "$tmp_key" "$KEY"
    mv -f -- "$tmp_cert" "$CERT"
    log "self-signed certificate for $DOMAIN written"
else
    mkdir -p "$WEBROOT" "$ROOT/letsencrypt/config" "$ROOT/letsencrypt/work" "$ROOT/letsencrypt/logs"
    account=(--register-unsafely-without-email)
    [[ -z $EMAIL ]] || account=(--email "$EMAIL")
    certbot certonly --webroot -w "$WEBROOT" -d "$DOMAIN" --non-interactive --agree-tos \
        --keep-until-expiring "${account[@]}" \
        --config-dir "$ROOT/letsencrypt/config" --work-dir "$ROOT/letsencrypt/work" \
        --logs-dir "$ROOT/letsencrypt/logs" \
        || fail "certbot could not issue a certificate for $DOMAIN (see $ROOT/letsencrypt/logs)"
    live=$ROOT/letsencrypt/config/live/$DOMAIN
    [[ -f $live/fullchain.pem && -f $live/privkey.pem ]] \
        || fail "certbot finished but $live has no certificate"
    cp -L -- "$live/privkey.pem" "$CERTS/.privkey.new"
    chmod 0600 "$CERTS/.privkey.new"
    cp -L -- "$live/fullchain.pem" "$CERTS/.fullchain.new"
    mv -f -- "$CERTS/.privkey.new" "$KEY"
    mv -f -- "$CERTS/.fullchain.new" "$CERT"
    log "Let's Encrypt certificate for $DOMAIN installed"
fi
chmod 0600 "$KEY"

expires=$(openssl x509 -in "$CERT" -noout -enddate)
result cert_path "$CERT"
result expires "${expires#notAfter=}"
progress 100
