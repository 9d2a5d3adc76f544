#!/bin/sh
# Installs (or upgrades, or removes) a Mailfleet sending agent on a Debian/Ubuntu server.
#
#   sudo installers/agent/install.sh                 install, or upgrade in place
#   sudo installers/agent/install.sh --uninstall     remove the service, keep data and config
#   sudo installers/agent/install.sh --uninstall --purge   remove data, config and user too
#
# Layout: the program in /opt/mailfleet/venv, the config in /etc/mailfleet/agent.toml, the
# store, keys and secrets in /var/lib/mailfleet (0700, owned by the mailfleet system user),
# and the systemd unit mailfleet-agent.service. Run --help for the options.
set -eu

ROOT="${MAILFLEET_ROOT:-${DESTDIR:-}}"
SOURCE=""
LISTEN="0.0.0.0:8470"
HTTP_LISTEN="127.0.0.1:8480"
PYTHON=""
SYSTEMCTL=auto
ACTION=install
PURGE=no
SERVICE_USER=mailfleet
UNIT_NAME=mailfleet-agent.service
HERE="$(cd "$(dirname "$0")" && pwd)"

usage() {
    cat <<EOF
usage: install.sh [options]

  --source SPEC       what pip installs: a source tree, a wheel, or a requirement such as
                      mailfleet==0.2.0 (default: the source tree this script belongs to)
  --listen HOST:PORT  the gRPC address desktops pair with, on a first install
                      (default 0.0.0.0:8470; later changes go in /etc/mailfleet/agent.toml)
  --http-listen HOST:PORT  the HTTP endpoints (unsubscribe, tracking, /metrics), on a first
                      install (default 127.0.0.1:8480, for a TLS proxy in front)
  --python PATH       the Python (3.11 or newer) to build the virtualenv with
  --root DIR          install under DIR instead of / (image builds and tests; also taken from
                      MAILFLEET_ROOT or DESTDIR); implies --no-systemctl
  --no-systemctl      install the unit file but do not enable or start it
  --uninstall         stop and remove the service and the program; data and config stay
  --purge             with --uninstall: also delete data, config and the mailfleet user
  -h, --help          this text
EOF
}

say() { printf 'mailfleet: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --source) SOURCE="${2:?--source needs a value}"; shift 2 ;;
        --listen) LISTEN="${2:?--listen needs HOST:PORT}"; shift 2 ;;
        --http-listen) HTTP_LISTEN="${2:?--http-listen needs HOST:PORT}"; shift 2 ;;
        --python) PYTHON="${2:?--python needs a path}"; shift 2 ;;
        --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
        --no-systemctl) SYSTEMCTL=no; shift ;;
        --uninstall) ACTION=uninstall; shift ;;
        --purge) PURGE=yes; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done

ROOT="${ROOT%/}"
if [ -n "$ROOT" ]; then
    [ -d "$ROOT" ] || die "--root $ROOT is not a directory"
    ROOT="$(cd "$ROOT" && pwd)"
    SYSTEMCTL=no
fi
# Paths as the running system sees them, and where this script writes them.
OPT_DIR=/opt/mailfleet
VENV="$OPT_DIR/venv"
CONF_DIR=/etc/mailfleet
CONFIG="$CONF_DIR/agent.toml"
DATA_DIR=/var/lib/mailfleet
UNIT_PATH="/etc/systemd/system/$UNIT_NAME"
AGENT="$ROOT$VENV/bin/mailfleet-agent"

if [ "$(id -u)" != 0 ] && [ -z "$ROOT" ]; then
    die "run as root (sudo $0 $*)"
fi

# systemctl only where systemd runs: containers and chroots get the unit file alone.
use_systemctl() {
    [ "$SYSTEMCTL" != no ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]
}

# The agent's own commands, pointed at the data directory under the root.
agent() {
    MAILFLEET_DATA_DIR="$ROOT$DATA_DIR" "$AGENT" "$@"
}

user_field() {  # user_field FIELD: uid (3) or gid (4) of the service user
    awk -F: -v u="$SERVICE_USER" -v f="$1" '$1 == u { print $f }' "$ROOT/etc/passwd"
}

create_user() {
    if [ -n "$(user_field 3 2>/dev/null)" ]; then
        return
    fi
    say "creating system user $SERVICE_USER"
    if [ -n "$ROOT" ]; then
        [ -f "$ROOT/etc/passwd" ] && [ -f "$ROOT/etc/group" ] \
            || die "$ROOT needs etc/passwd and etc/group to add the $SERVICE_USER user to"
        set -- --prefix "$ROOT"
    else
        set --
    fi
    useradd "$@" --system --user-group --home-dir "$DATA_DIR" --no-create-home \
        --shell /usr/sbin/nologin --comment "Mailfleet sending agent" "$SERVICE_USER"
}

find_python() {
    if [ -n "$PYTHON" ]; then
        echo "$PYTHON"
        return
    fi
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' \
                2>/dev/null; then
            command -v "$candidate"
            return
        fi
    done
    if [ -z "$ROOT" ] && command -v apt-get >/dev/null 2>&1; then
        say "installing python3 and python3-venv with apt-get"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >&2
        command -v python3
        return
    fi
    die "no Python 3.11 or newer with venv found; install python3 and python3-venv"
}

install_program() {
    if [ -z "$SOURCE" ]; then
        SOURCE="$(cd "$HERE/../.." && pwd)"
        [ -f "$SOURCE/pyproject.toml" ] || die "no --source given and $SOURCE is no source tree"
    fi
    mkdir -p "$ROOT$OPT_DIR"
    if [ ! -x "$ROOT$VENV/bin/python" ]; then
        python="$(find_python)"
        say "creating $VENV with $python"
        "$python" -m venv "$ROOT$VENV"
    fi
    say "installing $SOURCE into $VENV"
    # --force-reinstall of our package alone: the same version number from a newer tree
    # still replaces the old files, while unchanged dependencies are left as they are.
    "$ROOT$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        --upgrade --upgrade-strategy only-if-needed "$SOURCE"
    "$ROOT$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        --force-reinstall --no-deps "$SOURCE"
    say "installed $(agent --version)"
}

configure() {
    mkdir -p "$ROOT$CONF_DIR" "$ROOT$DATA_DIR"
    if [ ! -f "$ROOT$CONFIG" ]; then
        say "creating $CONFIG (gRPC on $LISTEN, HTTP on $HTTP_LISTEN)"
    fi
    # init creates only what is missing: on an upgrade it keeps keys, tenants and the config,
    # and brings the store's schema up to date.
    if ! out="$(agent init --data-dir "$ROOT$DATA_DIR" --config "$ROOT$CONFIG" \
        --grpc-listen "$LISTEN" --http-listen "$HTTP_LISTEN" 2>&1)"; then
        printf '%s\n' "$out" >&2
        die "mailfleet-agent init failed; nothing was started"
    fi
    # The config names the data directory as the running system sees it.
    sed -i "s#^data_dir = \".*\"#data_dir = \"$DATA_DIR\"#" "$ROOT$CONFIG"
    uid="$(user_field 3)"
    gid="$(user_field 4)"
    chown -R "$uid:$gid" "$ROOT$DATA_DIR"
    chmod 0700 "$ROOT$DATA_DIR"
    chown "0:$gid" "$ROOT$CONF_DIR" "$ROOT$CONFIG"
    chmod 0750 "$ROOT$CONF_DIR"
    chmod 0640 "$ROOT$CONFIG"
}

install_unit() {
    mkdir -p "$(dirname "$ROOT$UNIT_PATH")"
    sed -e "s#@USER@#$SERVICE_USER#g" -e "s#@VENV@#$VENV#g" -e "s#@CONFIG@#$CONFIG#g" \
        -e "s#@DATA_DIR@#$DATA_DIR#g" "$HERE/$UNIT_NAME" >"$ROOT$UNIT_PATH.new"
    chmod 0644 "$ROOT$UNIT_PATH.new"
    mv "$ROOT$UNIT_PATH.new" "$ROOT$UNIT_PATH"
}

do_install() {
    was_active=no
    if use_systemctl && systemctl is-active --quiet "$UNIT_NAME"; then
        was_active=yes
        say "stopping $UNIT_NAME for the upgrade (queued mail stays queued)"
        systemctl stop "$UNIT_NAME"
    fi
    create_user
    install_program
    configure
    install_unit
    if use_systemctl; then
        systemctl daemon-reload
        systemctl enable --quiet "$UNIT_NAME"
        systemctl start "$UNIT_NAME"
        [ "$was_active" = yes ] && say "upgraded and restarted $UNIT_NAME" \
            || say "started $UNIT_NAME"
    else
        say "unit installed at $UNIT_PATH; not started (no systemd here or --no-systemctl)"
    fi
    say "config: $CONFIG   data: $DATA_DIR"
    say "pairing string (paste it into the desktop; it holds an admin key):"
    agent pairing --config "$ROOT$CONFIG"
}

do_uninstall() {
    if use_systemctl; then
        systemctl disable --now --quiet "$UNIT_NAME" 2>/dev/null || true
    fi
    rm -f "$ROOT$UNIT_PATH"
    if use_systemctl; then
        systemctl daemon-reload
    fi
    rm -rf "$ROOT$OPT_DIR"
    say "removed $UNIT_NAME and $OPT_DIR"
    if [ "$PURGE" = yes ]; then
        rm -rf "$ROOT$DATA_DIR" "$ROOT$CONF_DIR"
        if [ -n "$(user_field 3 2>/dev/null)" ]; then
            if [ -n "$ROOT" ]; then
                userdel --prefix "$ROOT" "$SERVICE_USER"
            else
                userdel "$SERVICE_USER"
            fi
        fi
        say "purged $DATA_DIR, $CONF_DIR and the $SERVICE_USER user"
    else
        say "kept $DATA_DIR (store, keys) and $CONF_DIR; --uninstall --purge deletes them"
    fi
}

if [ "$ACTION" = uninstall ]; then
    do_uninstall
else
    do_install
fi
