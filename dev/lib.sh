# Shared set-up for ./dev/run, ./dev/test and ./dev/bench: PostgreSQL, the moto AWS emulator, the build.
# Sourced, not run. Everything is idempotent: each step checks before it acts.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="$ROOT/.dev"
mkdir -p "$STATE_DIR"
export PATH="$HOME/.cargo/bin:$PATH"
# The AWS SDK crates are slow to compile: keep the build outside the clone so fresh clones reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/butler-target}"

MOTO_VERSION="5.2.5"
MOTO_PORT="${BUTLER_MOTO_PORT:-5055}"
# moto accepts requests AWS refuses; dev/moto_validating.py refuses them as AWS would and records each refusal
# here, one JSON line per violation, for tooling to read after a run.
MOTO_VIOLATIONS="$STATE_DIR/moto-violations.jsonl"
PG_HOST="127.0.0.1"
PG_PORT="5432"
# Trust auth ignores the password; a server this script installs gets exactly this one.
PG_SERVER_URL="${BUTLER_PG_SERVER_URL:-postgres://postgres:postgres@$PG_HOST:$PG_PORT}"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

pg_answers() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; }

apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    log "need root to install $* (sudo apt-get install $*)"; return 1
  fi
  if [ ! -f "$STATE_DIR/apt-updated" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && touch "$STATE_DIR/apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

start_debian_cluster() {
  local version
  version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)"
  [ -n "$version" ] || return 1
  pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
  for _ in $(seq 1 30); do pg_answers && return 0; sleep 1; done
  return 1
}

# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 (unless DATABASE_URL points elsewhere).
ensure_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then
    log "using DATABASE_URL from the environment"
    return 0
  fi
  command -v pg_isready >/dev/null || apt_install postgresql-client
  if pg_answers; then return 0; fi
  log "PostgreSQL is not answering on $PG_HOST:$PG_PORT; starting it"
  if ! start_debian_cluster; then
    log "installing PostgreSQL from Debian's packages"
    apt_install postgresql
    start_debian_cluster || { log "PostgreSQL did not start"; return 1; }
    # A fresh Debian cluster wants a password over TCP: give postgres the one PG_SERVER_URL carries.
    runuser -u postgres -- psql -q -c "ALTER USER postgres PASSWORD 'postgres'" >/dev/null
  fi
}

# Creates database $1 unless it exists.
ensure_database() {
  local name="$1"
  if ! psql "$PG_SERVER_URL/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1; then
    psql "$PG_SERVER_URL/postgres" -qc "CREATE DATABASE $name" >/dev/null
  fi
}

# Installs moto (pinned) into a project-local venv and starts it on loopback.
install_moto() {
  if [ ! -x "$ROOT/.venv/bin/moto_server" ] || ! "$ROOT/.venv/bin/pip" show moto 2>/dev/null | grep "^Version: $MOTO_VERSION$" >/dev/null; then
    log "installing the moto AWS emulator $MOTO_VERSION into .venv"
    python3 -m venv "$ROOT/.venv"
    "$ROOT/.venv/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  fi
}

# Starts moto on $MOTO_PORT, logging to $1, and waits until it answers.
start_moto() {
  # A fresh moto starts with a fresh record of refusals: the file describes this moto's run only.
  export BUTLER_MOTO_VIOLATIONS="$MOTO_VIOLATIONS"
  : >"$BUTLER_MOTO_VIOLATIONS"
  # AWS managed policies (AmazonECSTaskExecutionRolePolicy, …) exist only when moto is asked to load them.
  # ECS services never start tasks in moto; with MOTO_ECS_SERVICE_RUNNING=1 a new service reports its one task
  # running, as ECS would once the controller starts (the pending → running wait is tested on fakes).
  # moto_server itself, behind a front that checks each request against botocore's model of the service, so a
  # request AWS would refuse (a name too long, a required member missing) fails here too, not first in AWS.
  MOTO_ECS_SERVICE_RUNNING=1 MOTO_IAM_LOAD_MANAGED_POLICIES=true nohup "$ROOT/.venv/bin/python" "$ROOT/dev/moto_validating.py" -H 127.0.0.1 -p "$MOTO_PORT" >"$1" 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 1 60); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$MOTO_PORT/moto-api/" 2>/dev/null; then
      export BUTLER_AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
      return 0
    fi
    sleep 0.5
  done
  log "moto did not start; see $1"; return 1
}

# A moto of this test run's own, on a free loopback port, stopped when the run ends: a long-lived moto grows
# by gigabytes across runs and slows until calls time out, and a run must not inherit another's state.
start_test_moto() {
  install_moto
  MOTO_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
  log "starting a fresh moto for this run on 127.0.0.1:$MOTO_PORT (log: .dev/moto-test.log)"
  start_moto "$STATE_DIR/moto-test.log" || return 1
  trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
}

ensure_moto() {
  if curl -fsS -o /dev/null "http://127.0.0.1:$MOTO_PORT/moto-api/" 2>/dev/null; then
    export BUTLER_AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
    # A moto this script started earlier keeps writing its refusals to the same file.
    export BUTLER_MOTO_VIOLATIONS="$MOTO_VIOLATIONS"
    return 0
  fi
  install_moto
  log "starting moto on 127.0.0.1:$MOTO_PORT (log: .dev/moto.log)"
  start_moto "$STATE_DIR/moto.log" || return 1
  echo "$MOTO_PID" >"$STATE_DIR/moto.pid"
}

# Debian's Chromium and its WebDriver, for the browser tests.
ensure_chromium() {
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    log "installing chromium and chromium-driver (Debian packages)"
    apt_install chromium chromium-driver
  fi
  export BUTLER_CHROMEDRIVER="${BUTLER_CHROMEDRIVER:-$(command -v chromedriver)}"
  export BUTLER_CHROMIUM="${BUTLER_CHROMIUM:-$(command -v chromium)}"
}

# axe-core (accessibility rules) from the npm registry, pinned, into .dev/node.
AXE_VERSION=4.10.3
ensure_axe() {
  local dir="$STATE_DIR/node"
  if [ ! -f "$dir/node_modules/axe-core/axe.min.js" ] || ! grep -q "\"version\": \"$AXE_VERSION\"" "$dir/node_modules/axe-core/package.json" 2>/dev/null; then
    command -v npm >/dev/null || apt_install npm
    log "installing axe-core $AXE_VERSION into .dev/node"
    mkdir -p "$dir"
    npm install --silent --no-audit --no-fund --prefix "$dir" "axe-core@$AXE_VERSION" >/dev/null
  fi
  export BUTLER_AXE_JS="$dir/node_modules/axe-core/axe.min.js"
}

ensure_toolchain() {
  command -v cargo >/dev/null || { log "cargo is not installed (rustup)"; return 1; }
  command -v curl >/dev/null || apt_install curl
}
