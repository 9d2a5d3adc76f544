#!/bin/sh
# Installs (or upgrades, or removes) a Mailfleet sending agent on a Debian/Ubuntu server.
#
#   sudo installers/agent/install.sh                 install, or upgrade in place
#   sudo installers/agent/install.sh --uninstall     remove the service, keep data and config
#   sudo installers/agent/install.sh --uninstall --purge   remove data, config and user too
#
# Layout: each install or upgrade is a virtualenv of its own in /opt/mailfleet/releases/, and
# /opt/mailfleet/venv links to the one in service; the config in /etc/mailfleet/agent.toml, the
# store, keys and secrets in /var/lib/mailfleet (0700, owned by the mailfleet system user),
# and the systemd unit mailfleet-agent.service. Run --help for the options.
#
# An upgrade installs the new release beside the running one first, and only then restarts
# the service: the agent is down for a restart, and a failed install leaves it as it was.
set -eu

ROOT="${MAILFLEET_ROOT:-${DESTDIR:-}}"
SOURCE=""
LISTEN="0.0.0.0:8470"
HTTP_LISTEN="127.0.0.1:8480"
PYTHON=""
SYSTEMCTL=auto
ACTION=install
PURGE=no
SHOW_PAIRING=no
SERVICE_USER=mailfleet
UNIT_NAME=mailfleet-agent.service
HERE="$(cd "$(dirname "$0")" && pwd)"

usage() {
    cat <<EOF
usage: install.sh [options]

  --source SPEC       what pip installs: a source tree or a built wheel (pip wheel . -w dist;
                      default: the source tree this script belongs to)
  --listen HOST:PORT  the gRPC address desktops pair with, on a first install
                      (default 0.0.0.0:8470; later changes go in /etc/mailfleet/agent.toml)
  --http-listen HOST:PORT  the HTTP endpoints (unsubscribe, tracking, /metrics), on a first
                      install (default 127.0.0.1:8480, for a TLS proxy in front)
  --python PATH       the Python (3.11 or newer) to build the virtualenv with
  --root DIR          install under DIR instead of / for an image build (also taken from
                      MAILFLEET_ROOT or DESTDIR): the files name their paths as the image
                      will see them, and the image needs the same Python at the same path;
                      implies --no-systemctl
  --show-pairing      print the pairing string (it holds an admin key) even on an upgrade;
                      a first install always prints it
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
        --show-pairing) SHOW_PAIRING=yes; shift ;;
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
RELEASES="$OPT_DIR/releases"
VENV="$OPT_DIR/venv"
CONF_DIR=/etc/mailfleet
CONFIG="$CONF_DIR/agent.toml"
DATA_DIR=/var/lib/mailfleet
UNIT_PATH="/etc/systemd/system/$UNIT_NAME"

if [ "$(id -u)" != 0 ] && [ -z "$ROOT" ]; then
    die "run as root (sudo $0 $*)"
fi

# systemctl only where systemd runs: containers and chroots get the unit file alone.
use_systemctl() {
    [ "$SYSTEMCTL" != no ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]
}

# The agent's own commands, pointed at the data directory under the root. Through the
# release's Python, not the mailfleet-agent script: an image build's scripts name the paths
# of the image, which do not exist on the build host; -P so the directory the installer is
# run from (a checkout) is not imported instead of the release.
agent() {
    MAILFLEET_DATA_DIR="$ROOT$DATA_DIR" "$ROOT$VENV/bin/python" -P -m mailfleet.agent.cli "$@"
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

python_version() {  # python_version PYTHON: "3.11", or nothing if it does not run
    "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true
}

python_new_enough() {
    "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

has_venv() {
    "$1" -c 'import venv, ensurepip' 2>/dev/null
}

# The Python to build a release with, checked before anything is changed: an old Python
# (Ubuntu 22.04 has 3.10) fails here in one line instead of late, inside pip.
find_python() {
    if [ -n "$PYTHON" ]; then
        version="$(python_version "$PYTHON")"
        [ -n "$version" ] || die "--python $PYTHON does not run"
        python_new_enough "$PYTHON" \
            || die "--python $PYTHON is Python $version; Mailfleet needs Python 3.11 or newer"
        has_venv "$PYTHON" \
            || die "$PYTHON has no venv module; install python$version-venv"
        echo "$PYTHON"
        return
    fi
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && python_new_enough "$candidate" \
            && has_venv "$candidate"; then
            command -v "$candidate"
            return
        fi
    done
    if command -v python3 >/dev/null 2>&1 && ! python_new_enough python3; then
        die "python3 here is Python $(python_version python3); Mailfleet needs 3.11 or newer." \
            "On Ubuntu 22.04: apt install python3.11 python3.11-venv, then run this again" \
            "with --python /usr/bin/python3.11"
    fi
    if [ -z "$ROOT" ] && command -v apt-get >/dev/null 2>&1; then
        say "installing python3 and python3-venv with apt-get"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >&2
        if python_new_enough python3 && has_venv python3; then
            command -v python3
            return
        fi
    fi
    die "no Python 3.11 or newer with venv found; install python3 and python3-venv"
}

# Builds a new release's virtualenv and installs SOURCE into it; prints its path (as the
# running system sees it). Nothing in service is touched: on failure the release is removed.
install_release() {
    python="$1"
    if [ -z "$SOURCE" ]; then
        SOURCE="$(cd "$HERE/../.." && pwd)"
        [ -f "$SOURCE/pyproject.toml" ] || die "no --source given and $SOURCE is no source tree"
    fi
    # The versions this release was tested with, so every server gets the same ones.
    constraints=""
    if [ -f "$HERE/constraints.txt" ]; then
        constraints="$HERE/constraints.txt"
    fi
    release="$RELEASES/$(date -u +%Y%m%dT%H%M%SZ)-$$"
    mkdir -p "$ROOT$RELEASES"
    say "installing $SOURCE into $release"
    if ! "$python" -m venv "$ROOT$release" >&2 \
        || ! "$ROOT$release/bin/python" -m pip install --quiet --disable-pip-version-check \
            ${ROOT:+--no-compile} ${constraints:+-c "$constraints"} "$SOURCE" >&2; then
        rm -rf "$ROOT$release"
        die "installing $SOURCE failed; nothing in service was changed"
    fi
    if [ -n "$ROOT" ]; then
        relocate "$release"
    fi
    echo "$release"
}

# An image build's release names its paths as the image will see them: the scripts'
# interpreter lines, pyvenv.cfg, and the source paths compiled into the bytecode.
relocate() {
    built="$ROOT$1"
    for file in "$built"/bin/* "$built/pyvenv.cfg"; do
        if [ -f "$file" ] && [ ! -L "$file" ] && grep -qIF "$built" "$file"; then
            sed -i "s#$built#$1#g" "$file"
        fi
    done
    # Some packages ship templates named .py that are no Python: pip skips them too.
    "$built/bin/python" -m compileall -q -s "$ROOT" -p / "$built/lib" >/dev/null || true
}

# Puts a release in service: /opt/mailfleet/venv links to it (relatively, so the link holds
# in an image too). A running agent keeps the release it started from until it restarts.
switch_release() {
    if [ -d "$ROOT$VENV" ] && [ ! -L "$ROOT$VENV" ]; then
        # Installs before releases existed had the virtualenv itself here.
        mv "$ROOT$VENV" "$ROOT$RELEASES/before-releases"
    fi
    ln -sfn "releases/$(basename "$1")" "$ROOT$VENV.new"
    mv -T "$ROOT$VENV.new" "$ROOT$VENV"
    say "installed $(agent --version)"
}

# Keeps the release in service and the one before it (what a running agent may still use,
# and a way back); older ones go.
prune_releases() {
    current="$(basename "$(readlink "$ROOT$VENV")")"
    kept=0
    for old in $(ls -1t "$ROOT$RELEASES"); do
        [ "$old" = "$current" ] && continue
        kept=$((kept + 1))
        if [ "$kept" -gt 1 ]; then
            rm -rf "$ROOT$RELEASES/$old"
        fi
    done
}

configure() {
    mkdir -p "$ROOT$CONF_DIR" "$ROOT$DATA_DIR"
    # Only a first install runs init: on an upgrade the agent still serving owns the store,
    # and the new release brings its schema up to date when it starts.
    if [ "$1" = yes ]; then
        say "creating $CONFIG (gRPC on $LISTEN, HTTP on $HTTP_LISTEN)"
        if ! out="$(agent init --data-dir "$ROOT$DATA_DIR" --config "$ROOT$CONFIG" \
            --grpc-listen "$LISTEN" --http-listen "$HTTP_LISTEN" 2>&1)"; then
            printf '%s\n' "$out" >&2
            die "mailfleet-agent init failed; nothing was started"
        fi
        # The config names the data directory as the running system sees it.
        sed -i "s#^data_dir = \".*\"#data_dir = \"$DATA_DIR\"#" "$ROOT$CONFIG"
    fi
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
    python="$(find_python)"
    first=yes
    [ -f "$ROOT$CONFIG" ] && first=no
    create_user
    release="$(install_release "$python")"
    switch_release "$release"
    configure "$first"
    install_unit
    if use_systemctl; then
        systemctl daemon-reload
        systemctl enable --quiet "$UNIT_NAME"
        if systemctl is-active --quiet "$UNIT_NAME"; then
            systemctl restart "$UNIT_NAME"
            say "upgraded and restarted $UNIT_NAME (queued mail stays queued)"
        else
            systemctl start "$UNIT_NAME"
            say "started $UNIT_NAME"
        fi
    else
        say "unit installed at $UNIT_PATH; not started (no systemd here or --no-systemctl)"
    fi
    prune_releases
    say "config: $CONFIG   data: $DATA_DIR"
    if [ "$first" = yes ] || [ "$SHOW_PAIRING" = yes ]; then
        say "pairing string (paste it into the desktop; it holds an admin key):"
        agent pairing --config "$ROOT$CONFIG"
    else
        say "pairing unchanged; --show-pairing prints it again"
    fi
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
