# Sourced by benches/run.sh and benches/http.sh: the server process a
# network workload runs against, stopped on every way out of the script.
#
#   SERVER_PID=$!        # after starting a server in the background
#   stop_server          # kill and reap it (no-op when none is running)

SERVER_PID=""
stop_server() {
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
trap stop_server EXIT
trap 'stop_server; exit 130' INT TERM
