#!/usr/bin/env bash
# The package as a user receives it: `npm pack`, install the tarball into an empty project,
# then use it the ways the README promises. Checks, in order:
#   1. the bin: `npx follower-maze --help` and `--version` (= package.json's version);
#   2. the server on free loopback ports passes a short `follower-maze simulate` run
#      (`ALL NOTIFICATIONS RECEIVED`, exit 0) and exits 0 on SIGTERM;
#   3. `import` from ESM and `require()` from CommonJS of every entry point (`follower-maze`,
#      `follower-maze/cluster`, `/monitor`, `/simulate`; Node >= 20.19 loads ESM with
#      require() as long as no module in the graph uses top-level await);
#   4. the declarations: a TypeScript consumer compiles under nodenext and bundler resolution.
# Every wait is bounded; the temp project and the server go away on any exit.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/follower-maze-smoke.XXXXXX")"
SERVER_PID=''
STEP_TIMEOUT=120 # seconds, per command
STARTUP_TIMEOUT=10

cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf 'smoke-pack: %s\n' "$*"; }
fail() {
  printf 'smoke-pack: FAILED: %s\n' "$*" >&2
  exit 1
}

# --- Pack and install -------------------------------------------------------------------
VERSION="$(node -p "require('$ROOT/package.json').version")"
TARBALL="$WORK/$(cd "$ROOT" && npm pack --silent --pack-destination "$WORK" | tail -n 1)"
[[ -f "$TARBALL" ]] || fail "npm pack produced no tarball"
say "packed $(basename "$TARBALL") ($(du -k "$TARBALL" | cut -f1) KiB)"

APP="$WORK/app"
mkdir "$APP"
cp -R "$ROOT/scripts/smoke-pack/." "$APP/"
cd "$APP"
# Dependencies come from the registry; --prefer-offline serves them from the npm cache
# when it has them. TypeScript and @types/node are the consumer's, for step 4.
timeout "$STEP_TIMEOUT" npm install --prefer-offline --no-audit --no-fund --loglevel=error \
  "$TARBALL" typescript@5.9 @types/node@20 >/dev/null || fail "npm install of the tarball"
say "installed into an empty project"

# --- 1. The bin ---------------------------------------------------------------------------
# `--no`: run only what is installed here, never fetch a package of that name; `--` keeps
# `--help` and `--version` for follower-maze instead of npx.
HELP="$(timeout 30 npx --no -- follower-maze --help)" || fail "--help exited non-zero"
grep -q 'simulate' <<<"$HELP" || fail "--help does not list the simulate command"
GOT_VERSION="$(timeout 30 npx --no -- follower-maze --version)" || fail "--version exited non-zero"
[[ "$GOT_VERSION" == "$VERSION" ]] || fail "--version printed '$GOT_VERSION', want '$VERSION'"
say "bin: --help and --version ($GOT_VERSION) ok"

# --- 2. Server + simulator ----------------------------------------------------------------
# The server runs from its bin link directly (not through npx) so that SIGTERM reaches it
# and its own exit code is the one checked.
./node_modules/.bin/follower-maze --event-port 0 --client-port 0 >server.out 2>server.err &
SERVER_PID=$!
PORTS=''
for _ in $(seq $((STARTUP_TIMEOUT * 10))); do
  PORTS="$(sed -nE 's/.*events on [^ ]+:([0-9]+), clients on [^ ]+:([0-9]+).*/\1 \2/p' server.out)"
  [[ -n "$PORTS" ]] && break
  kill -0 "$SERVER_PID" 2>/dev/null || fail "server exited at startup: $(cat server.err)"
  sleep 0.1
done
[[ -n "$PORTS" ]] || fail "server printed no startup line within ${STARTUP_TIMEOUT}s"
read -r EVENT_PORT CLIENT_PORT <<<"$PORTS"
say "server listening: events :$EVENT_PORT, clients :$CLIENT_PORT"

SIMULATE_STATUS=0
timeout "$STEP_TIMEOUT" npx --no -- follower-maze simulate --event-port "$EVENT_PORT" \
  --client-port "$CLIENT_PORT" --total-events 20000 --concurrency-level 20 \
  --log-interval 0 >simulate.out 2>simulate.err || SIMULATE_STATUS=$?
if [[ "$SIMULATE_STATUS" -ne 0 ]] || ! grep -qx 'ALL NOTIFICATIONS RECEIVED' simulate.out; then
  cat simulate.out simulate.err server.err >&2
  fail "simulate exited $SIMULATE_STATUS"
fi
say "simulate: ALL NOTIFICATIONS RECEIVED"

kill -TERM "$SERVER_PID"
for _ in $(seq 100); do
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$SERVER_PID" 2>/dev/null && fail "server still running 10s after SIGTERM"
SERVER_STATUS=0
wait "$SERVER_PID" || SERVER_STATUS=$?
SERVER_PID=''
[[ "$SERVER_STATUS" -eq 0 ]] || fail "server exited $SERVER_STATUS after SIGTERM: $(cat server.err)"
say "server: SIGTERM, exit 0"

# --- 3. ESM and CommonJS --------------------------------------------------------------------
timeout 30 node esm.mjs || fail "import from an ES module"
# Fails with ERR_REQUIRE_ASYNC_MODULE if top-level await ever enters the module graph.
timeout 30 node cjs.cjs || fail "require() from a CommonJS module"

# --- 4. Type declarations ---------------------------------------------------------------------
timeout "$STEP_TIMEOUT" npx --no -- tsc -p tsconfig.nodenext.json || fail "tsc, nodenext resolution"
timeout "$STEP_TIMEOUT" npx --no -- tsc -p tsconfig.bundler.json || fail "tsc, bundler resolution"
say "types: consumer compiles (nodenext, bundler)"

say "all checks passed"
