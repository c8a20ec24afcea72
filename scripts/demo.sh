#!/usr/bin/env bash
# The main job: a real agent session from the bundled recording, in a real
# sandbox, offline. The agent looks at a small project, runs its failing
# test, asks to fix the file (the default policy asks for every write), and
# runs the test again.
#
# In a terminal, the approval is asked inline. Piped (CI, scripts), the demo
# plays "another terminal": it waits until the session asks, approves from a
# second client, and follows the session to its end.
set -euo pipefail
cd "$(dirname "$0")/.."
agentctl=.venv/bin/agentctl
task="The tests of the project in the workspace fail. Find out why and fix it."
run=(run --model replay:recordings/demo.jsonl --workspace recordings/demo/workspace)

$agentctl sandbox build >/dev/null

if [ -t 0 ] && [ -t 1 ]; then
    exec $agentctl "${run[@]}" "$task"
fi

sid=$($agentctl "${run[@]}" --detach "$task")
echo "started $sid" >&2
after=0
while :; do
    set +e
    $agentctl attach "$sid" --after "$after" --no-wait
    code=$?
    set -e
    [ "$code" = 3 ] || break # 3: waiting for an approval
    after=$($agentctl show "$sid" --json | jq .last_seq)
    for id in $($agentctl approvals --json | jq -r --arg s "$sid" '.[] | select(.session == $s) | .id'); do
        echo "approving $id from a second client (as make-demo)" >&2
        $agentctl approve "$id" --as make-demo --reason "approved by scripts/demo.sh" >&2
    done
done
echo "session $sid ended with exit code $code; see it again with: $agentctl log $sid" >&2
exit "$code"
