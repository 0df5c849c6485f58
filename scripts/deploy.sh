#!/usr/bin/env bash
# Deploys one environment of the agent platform.
#
#   export DEPLOYMENT_ENV=production        # local, staging or production (required)
#   export ENABLE_AUTOSCALING=true          # true or false; unset: config/<env>.ts's autoscaling.enabled
#   ./scripts/deploy.sh                     # synth, check, diff, deploy (blue-green aware)
#   ./scripts/deploy.sh --dry-run           # stop after the diff; writes no password, no state
#   ./scripts/deploy.sh rollback SERVICE    # switch a blue-green service back to its other track
#   ./scripts/deploy.sh namespaces          # create only the namespaces (before hand-made Secrets)
#   ./scripts/deploy.sh restore --to TIME [--into NAME]  # the database as of TIME, into a NEW cluster
#   ./scripts/deploy.sh --yes ...           # do not ask before applying to production
#   ./scripts/deploy.sh --allow-destroy=ADDRESS ...  # let this plan delete or replace ADDRESS (repeatable)
#
# Order: validate the variables and tools, synthesize, run the project's checks, check the kube
# context, `terraform plan` (the diff), then apply. Nothing reaches a cluster before the diff, and
# nothing at all if a step before it fails.
#
# Blue-green services: the first apply holds each Service on the track that is live in the
# cluster while the other track rolls (migrations run first: the Deployments depend on the
# migration Job); once the new track is ready, a second apply switches the Service to the track
# that config/<env>.ts names as active. The old track keeps running for `rollback`.
#
# Terraform's plan files and a local state hold the TF_VAR_* passwords in clear: everything this
# script writes is created under umask 077 (mode 0600), and the plan files are removed when the
# script exits.
#
# Restore: a point-in-time recovery of the environment's CloudNativePG cluster from its backups,
# into a new cluster named NAME (default <cluster>-pitr-<time>), next to the running one; refused
# when a Cluster of that name exists, so it never overwrites a database. TIME is RFC 3339
# (2026-12-01T10:04:00Z). It waits until the new cluster is ready (RESTORE_TIMEOUT, default 3600s).
#
# Destroy guard: every saved plan is read (`terraform show -json`) by dist/scripts/plan-guard.js
# before it is applied, or before a dry run stops; a plan that deletes or replaces a namespace, a
# StatefulSet, a volume claim, a Secret the platform owns or a resource the stack marks as
# data-bearing is refused, each address listed, unless --allow-destroy names that address. The
# same flag lifts that resource's prevent_destroy (staging, production) for this synth only.
set -euo pipefail
umask 077

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly ROLLOUT_TIMEOUT="${ROLLOUT_TIMEOUT:-600s}"
readonly RESTORE_TIMEOUT="${RESTORE_TIMEOUT:-3600s}"

# A value for a message: control characters, DEL, C1 controls and U+0080..U+00FF (also what an
# invalid UTF-8 byte reads as), bidirectional overrides and isolates, zero-width and separator
# characters shown as \uXXXX; at most 80 characters, then the length. A variable's value can
# neither drive the terminal nor reorder what the reader sees, whatever the caller's locale.
shown() {
  local LC_ALL=C.UTF-8
  local value="$1" out="" c code i n
  n=${#value}
  for ((i = 0; i < n && i < 80; i++)); do
    c="${value:i:1}"
    printf -v code '%d' "'${c}" 2>/dev/null || code=63
    if ((code < 32 || (code >= 127 && code < 256) || code == 0x061c || (code >= 0x200b && code <= 0x200f) ||
      (code >= 0x2028 && code <= 0x202e) || (code >= 0x2060 && code <= 0x2069) || code == 0xfeff)); then
      printf -v c '\\u%04x' "${code}"
    fi
    out+="${c}"
  done
  ((n > 80)) && out+="… (${n} characters)"
  printf '%s' "${out}"
}

say() { printf '==> %s\n' "$*"; }
fail() {
  printf 'deploy.sh: %s\n' "$*" >&2
  exit 1
}

# The comment block at the top of this file, whole: from line 2 to the first line that is not a
# comment.
usage() {
  sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"
}

# The output directory: the app's (CDKTF_OUTDIR, else cdktf.out in the project), made absolute
# against the caller's directory and exported, so the synth writes exactly what is planned here.
outdir_value="${CDKTF_OUTDIR-${ROOT}/cdktf.out}"
[[ -n "${outdir_value}" ]] || fail "CDKTF_OUTDIR is set but empty: unset it to use cdktf.out"
[[ "${outdir_value}" == /* ]] || outdir_value="${PWD}/${outdir_value}"

plan_files=()
restore_outdir=""
cleanup() {
  local f
  for f in "${plan_files[@]}"; do rm -f -- "$f"; done
  [[ -z "${restore_outdir}" ]] || rm -rf -- "${restore_outdir}"
}
trap cleanup EXIT

dry_run=false
assume_yes=false
allow_destroy=()
command="deploy"
rollback_service=""
restore_to=""
restore_into=""
while (($#)); do
  case "$1" in
    --dry-run) dry_run=true ;;
    --yes | -y) assume_yes=true ;;
    --allow-destroy=* | --allow-destroy)
      if [[ "$1" == --allow-destroy ]]; then
        address="${2:-}"
        shift
      else
        address="${1#--allow-destroy=}"
      fi
      # A resource address as Terraform prints it: <type>.<name>.
      [[ "${address}" =~ ^[a-z][a-z0-9_]*\.[A-Za-z_][A-Za-z0-9_-]*$ ]] ||
        fail "--allow-destroy needs a resource address (<type>.<name>, as the refusal lists it), not '$(shown "${address}")'"
      allow_destroy+=("${address}")
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    deploy) command="deploy" ;;
    namespaces) command="namespaces" ;;
    restore) command="restore" ;;
    --to | --into)
      [[ "${command}" == "restore" ]] || fail "$1 belongs to restore: scripts/deploy.sh restore --to 2026-12-01T10:04:00Z"
      [[ -n "${2:-}" ]] || fail "$1 needs a value (see scripts/deploy.sh --help)"
      if [[ "$1" == --to ]]; then restore_to="$2"; else restore_into="$2"; fi
      shift
      ;;
    rollback)
      command="rollback"
      rollback_service="${2:-}"
      [[ -n "${rollback_service}" ]] || fail "rollback needs a service name: scripts/deploy.sh rollback api-gateway"
      shift
      ;;
    *) fail "unknown argument '$(shown "$1")' (see scripts/deploy.sh --help)" ;;
  esac
  shift
done

[[ "${command}" != "restore" || -n "${restore_to}" ]] || fail "restore needs the time to restore to: scripts/deploy.sh restore --to 2026-12-01T10:04:00Z"
if [[ "${command}" == "restore" ]]; then
  # A restore plans and applies nothing: it synthesizes into a private directory, removed on exit,
  # and leaves the output directory (cdktf.out, or CDKTF_OUTDIR) as it was.
  restore_outdir="$(mktemp -d "${TMPDIR:-/tmp}/deploy-restore.XXXXXX")"
  outdir_value="${restore_outdir}/cdktf.out"
fi
readonly OUTDIR="${outdir_value}"
export CDKTF_OUTDIR="${OUTDIR}"

# --- 1. Variables ------------------------------------------------------------------------------
env_name="${DEPLOYMENT_ENV:-}"
case "${env_name}" in
  local | staging | production) ;;
  "") fail "DEPLOYMENT_ENV is not set: export DEPLOYMENT_ENV=local, staging or production" ;;
  *) fail "DEPLOYMENT_ENV='$(shown "${env_name}")' is not an environment: use local, staging or production" ;;
esac
# Unset (or empty) means what config/<env>.ts says (autoscaling.enabled), exactly as for
# `npm run synth` and `cdktf diff`: the plan a pull request shows is the plan deployed.
autoscaling="${ENABLE_AUTOSCALING:-}"
case "${autoscaling}" in
  true | false) export ENABLE_AUTOSCALING="${autoscaling}" ;;
  "")
    unset ENABLE_AUTOSCALING
    autoscaling="as config/${env_name}.ts sets it"
    ;;
  *) fail "ENABLE_AUTOSCALING='$(shown "${autoscaling}")' must be true or false, or unset for config/${env_name}.ts's autoscaling.enabled" ;;
esac
export DEPLOYMENT_ENV="${env_name}"

# --- 2. Tools ----------------------------------------------------------------------------------
need() {
  command -v "$1" >/dev/null 2>&1 || fail "$1 is not installed or not on PATH: $2"
}
need node "install Node.js 20 (https://nodejs.org or your package manager)"
need terraform "install Terraform >= 1.11.4 (https://developer.hashicorp.com/terraform/install)"
need kubectl "install kubectl (https://kubernetes.io/docs/tasks/tools/)"
node_version="$(node --version)"
node_major="${node_version#v}"
node_major="${node_major%%.*}"
if [[ ! "${node_major}" =~ ^[0-9]+$ ]] || ((node_major < 20)); then
  fail "Node.js $(shown "${node_version}") is too old: 20 or newer is needed"
fi
[[ -d "${ROOT}/node_modules" ]] || fail "dependencies are not installed: run 'npm ci' in ${ROOT}"

# --- 3. Synthesize and check (local files only) -------------------------------------------------
say "synthesizing ${env_name} (autoscaling ${autoscaling})"
cd "${ROOT}"
node scripts/compile.cjs tsconfig.deploy.json dist/main.js dist/scripts/check.js dist/scripts/stack-info.js dist/scripts/plan-guard.js dist/scripts/restore-manifest.js ||
  fail "compile failed: fix the problems above (config/${env_name}.ts or the program); nothing was deployed"
if [[ "${command}" == "restore" ]]; then
  # What the restore asks for is checked first (time, name, environment): nothing else runs for a bad one.
  restore_args=("${env_name}" "${restore_to}")
  [[ -n "${restore_into}" ]] && restore_args+=("${restore_into}")
  restore="$(node dist/scripts/restore-manifest.js "${restore_args[@]}")" || fail "nothing was restored"
fi
# Only the addresses named here lift prevent_destroy; one inherited from the shell never does.
PLATFORM_ALLOW_DESTROY="${allow_destroy[*]}" node dist/main.js ||
  fail "synth failed: fix the configuration errors above (config/${env_name}.ts); nothing was deployed"

say "running the project's checks"
node dist/scripts/check.js "${OUTDIR}" "${env_name}" || fail "checks failed: fix the problems above; nothing was deployed"

info="$(node dist/scripts/stack-info.js "${OUTDIR}" "${env_name}")" || fail "could not read the synthesized stack"
context="$(sed -n 's/^context=//p' <<<"${info}")"
namespace="$(sed -n 's/^namespace=//p' <<<"${info}")"
mapfile -t blue_green < <(sed -n 's/^bluegreen=//p' <<<"${info}")
mapfile -t secret_vars < <(sed -n 's/^secret=//p' <<<"${info}")
mapfile -t namespace_targets < <(sed -n 's/^namespace_resource=//p' <<<"${info}")

# --- 4. Cluster access -------------------------------------------------------------------------
# Read the list first: `grep -q` in a pipe would close it early and fail the pipeline.
contexts="$(kubectl config get-contexts -o name 2>/dev/null || true)"
grep -qxF "${context}" <<<"${contexts}" ||
  fail "kube context '$(shown "${context}")' (cluster.context in config/${env_name}.ts) is not in your kubeconfig: create it, or edit the config"
kube() { kubectl --context "${context}" "$@"; }

# --- Restore: a new cluster from the backups, never over a running one ---------------------------
if [[ "${command}" == "restore" ]]; then
  into="$(sed -n 's/^name=//p' <<<"${restore}")"
  source_cluster="$(sed -n 's/^source=//p' <<<"${restore}")"
  objectstore="$(sed -n 's/^objectstore=//p' <<<"${restore}")"
  restore_ns="$(sed -n 's/^namespace=//p' <<<"${restore}")"
  if kube -n "${restore_ns}" get clusters.postgresql.cnpg.io "${into}" >/dev/null 2>&1; then
    fail "a Cluster named ${into} already exists in ${restore_ns}: a restore never overwrites a database; choose another name with --into"
  fi
  kube -n "${restore_ns}" get objectstores.barmancloud.cnpg.io "${objectstore}" >/dev/null 2>&1 ||
    fail "the ObjectStore ${objectstore} (the backups of ${source_cluster}) is not in ${restore_ns}: deploy the environment first (its cluster release creates it)"
  first="$(kube -n "${restore_ns}" get objectstores.barmancloud.cnpg.io "${objectstore}" -o "jsonpath={.status.serverRecoveryWindow.${source_cluster}.firstRecoverabilityPoint}" 2>/dev/null || true)"
  if [[ -n "${first}" ]] && [[ "$(node -e 'process.stdout.write(String(Date.parse(process.argv[1]) < Date.parse(process.argv[2])))' "${restore_to}" "${first}")" == true ]]; then
    fail "--to ${restore_to} is before the earliest point the backups reach (${first}): retention removed what it needs"
  fi
  say "restore: ${source_cluster} as of ${restore_to}, into a new cluster ${into} in ${restore_ns}"
  if [[ "${dry_run}" == true ]]; then
    sed -n 's/^manifest=//p' <<<"${restore}" | kube create --dry-run=server -f - || fail "the API server refused the restore's objects"
    say "dry run: nothing was created"
    exit 0
  fi
  if [[ "${env_name}" == "production" && "${assume_yes}" != true ]]; then
    [[ -t 0 ]] || fail "refusing to restore in production without a terminal: pass --yes"
    read -r -p "Create cluster ${into} in production from the backups? [y/N] " answer
    [[ "${answer}" == "y" || "${answer}" == "Y" ]] || fail "not restored"
  fi
  # create, not apply: it refuses an object that exists.
  sed -n 's/^manifest=//p' <<<"${restore}" | kube create -f - || fail "creating the restored cluster failed: see above"
  say "waiting for ${into} to recover and come up (up to ${RESTORE_TIMEOUT})"
  kube -n "${restore_ns}" wait --for=condition=Ready "clusters.postgresql.cnpg.io/${into}" --timeout="${RESTORE_TIMEOUT}" ||
    fail "${into} is not ready yet: kubectl -n ${restore_ns} get cluster ${into}; the running cluster ${source_cluster} was not touched"
  say "restored: ${into} holds ${source_cluster} as of ${restore_to}; the running cluster is untouched."
  say "  look: kubectl -n ${restore_ns} port-forward svc/${into}-rw 5432 (docs/operations.md, \"Database backups and restore\")"
  exit 0
fi

# Passwords for an environment whose Secrets Terraform makes (local): generated once, kept out
# of git in .secrets/, never printed. A dry run writes none: it reads the file where a deploy
# already wrote it, and otherwise plans with passwords generated for that plan alone, in this
# process's memory (the diff shows Secret data as sensitive either way).
random_password() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }
secrets_file="${ROOT}/.secrets/${env_name}.env"
for var in "${secret_vars[@]}"; do
  env_var="TF_VAR_${var}"
  # A value the caller exported wins; then the one a deploy saved.
  [[ -z "${!env_var:-}" ]] || continue
  saved=""
  [[ -f "${secrets_file}" ]] && saved="$(sed -n "s/^export ${env_var}=//p" "${secrets_file}")"
  saved="${saved##*$'\n'}"
  if [[ -n "${saved}" ]]; then
    export "${env_var}=${saved}"
    continue
  fi
  value="$(random_password)"
  export "${env_var}=${value}"
  if [[ "${dry_run}" == true ]]; then
    say "dry run: ${env_var} generated for this plan only (the first deploy writes it to .secrets/${env_name}.env)"
    continue
  fi
  if [[ ! -f "${secrets_file}" ]]; then
    mkdir -p "${ROOT}/.secrets"
    (umask 077 && : >"${secrets_file}")
  fi
  printf 'export %s=%s\n' "${env_var}" "${value}" >>"${secrets_file}"
  say "generated ${env_var} into .secrets/${env_name}.env"
done

# The track each blue-green Service routes to in the cluster now ("" before the first deploy).
live_track() {
  kube -n "${namespace}" get service "$1" -o 'jsonpath={.spec.selector.agent-platform/track}' 2>/dev/null || true
}

tf() { terraform -chdir="${OUTDIR}/stacks/${env_name}" "$@"; }
# The destroy guard on a saved plan (see the top of this file). The plan's JSON holds the TF_VAR_*
# values in clear: it goes through a pipe, never to a file. Extra arguments: --allow-unused.
guard_args=()
for address in "${allow_destroy[@]}"; do guard_args+=("--allow-destroy=${address}"); done
guard() {
  local plan="$1"
  shift
  tf show -json "${plan}" | node "${ROOT}/dist/scripts/plan-guard.js" "${guard_args[@]}" "$@" ||
    fail "the destroy guard refused the plan (above); nothing was applied"
}
# Plan files live in the stack's directory and are removed when the script exits.
plan_files=(namespaces.tfplan rollback.tfplan release.tfplan switch.tfplan)
plan_files=("${plan_files[@]/#/${OUTDIR}/stacks/${env_name}/}")

# --- 5. Diff -----------------------------------------------------------------------------------
say "terraform init"
tf init -input=false -no-color >/dev/null || fail "terraform init failed (backend or providers): see above"

if [[ "${command}" == "namespaces" ]]; then
  ((${#namespace_targets[@]})) || fail "the ${env_name} stack declares no namespace"
  targets=()
  for t in "${namespace_targets[@]}"; do targets+=("-target=${t}"); done
  say "plan: the namespaces only (${#targets[@]}), so Secrets made outside Terraform have somewhere to live"
  tf plan -input=false -no-color -out=namespaces.tfplan "${targets[@]}" || fail "terraform plan failed: see above"
  guard namespaces.tfplan
  if [[ "${dry_run}" == true ]]; then
    say "dry run: stopping before the apply"
    exit 0
  fi
  tf apply -input=false -no-color namespaces.tfplan || fail "terraform apply failed: see above"
  say "namespaces created; now create the Secrets (docs/operations.md, \"Secrets\"), then run scripts/deploy.sh"
  exit 0
fi

# Hold every blue-green Service on its live track for the first apply.
hold_vars=()
switches=()
for entry in "${blue_green[@]}"; do
  read -r service variable wanted _address <<<"${entry}"
  live="$(live_track "${service}")"
  if [[ -n "${live}" && "${live}" != "${wanted}" ]]; then
    hold_vars+=("-var=${variable}=${live}")
    switches+=("${service} ${variable} ${live} ${wanted}")
  fi
done

if [[ "${command}" == "rollback" ]]; then
  found=""
  target=""
  for entry in "${blue_green[@]}"; do
    read -r service variable wanted address <<<"${entry}"
    if [[ "${service}" == "${rollback_service}" ]]; then
      found="${variable}"
      target="${address}"
    fi
  done
  [[ -n "${found}" ]] || fail "'$(shown "${rollback_service}")' is not a blue-green service in ${env_name} (release.strategy in config/${env_name}.ts)"
  live="$(live_track "${rollback_service}")"
  [[ -n "${live}" ]] || fail "'${rollback_service}' has no live Service in ${namespace}: nothing to roll back"
  other="blue"
  [[ "${live}" == "blue" ]] && other="green"
  say "checking that ${rollback_service}-${other} is ready before switching to it"
  kube -n "${namespace}" rollout status "deployment/${rollback_service}-${other}" --timeout="${ROLLOUT_TIMEOUT}" ||
    fail "${rollback_service}-${other} is not ready: the Service stays on ${live}"
  # Only this Service changes; every other blue-green Service stays where it is live.
  vars=()
  for entry in "${blue_green[@]}"; do
    read -r service variable wanted _address <<<"${entry}"
    if [[ "${service}" == "${rollback_service}" ]]; then
      vars+=("-var=${variable}=${other}")
    else
      current="$(live_track "${service}")"
      vars+=("-var=${variable}=${current:-${wanted}}")
    fi
  done
  say "plan: switch ${rollback_service} from ${live} to ${other}"
  tf plan -input=false -no-color -out=rollback.tfplan -target="${target}" "${vars[@]}" >/dev/null ||
    fail "terraform plan for the rollback failed"
  tf show -no-color rollback.tfplan
  guard rollback.tfplan
  if [[ "${dry_run}" == true ]]; then
    say "dry run: stopping before the switch"
    exit 0
  fi
  tf apply -input=false -no-color rollback.tfplan || fail "the switch failed: the Service stays on ${live}"
  say "${rollback_service} now routes to ${other}. Make it permanent in config/${env_name}.ts:"
  say "  release: { active: \"${other}\" } and swap image / previous, or the next deploy switches back"
  exit 0
fi

say "plan (the diff)"
tf plan -input=false -no-color -out=release.tfplan "${hold_vars[@]}" ||
  fail "terraform plan failed: see above; nothing was deployed"
guard release.tfplan

if [[ "${dry_run}" == true ]]; then
  say "dry run: stopping after the diff"
  exit 0
fi

if [[ "${env_name}" == "production" && "${assume_yes}" != true ]]; then
  [[ -t 0 ]] || fail "refusing to apply to production without a terminal: pass --yes"
  read -r -p "Apply this plan to production? [y/N] " answer
  [[ "${answer}" == "y" || "${answer}" == "Y" ]] || fail "not applied"
fi

# --- 6. Deploy ---------------------------------------------------------------------------------
say "apply (migrations run first; blue-green Services stay on their live track)"
tf apply -input=false -no-color release.tfplan || fail "terraform apply failed: see above"

if ((${#switches[@]})); then
  for entry in "${switches[@]}"; do
    read -r service variable live wanted <<<"${entry}"
    say "waiting for ${service}-${wanted} to be ready"
    kube -n "${namespace}" rollout status "deployment/${service}-${wanted}" --timeout="${ROLLOUT_TIMEOUT}" ||
      fail "${service}-${wanted} did not become ready: the Service stays on ${live}; fix and deploy again"
  done
  say "switching Services to their new track"
  tf plan -input=false -no-color -out=switch.tfplan >/dev/null || fail "terraform plan for the switch failed"
  # The release plan already used the allowances; this one may hold none of them.
  guard switch.tfplan --allow-unused
  tf apply -input=false -no-color switch.tfplan || fail "the switch failed: see above"
  for entry in "${switches[@]}"; do
    read -r service variable live wanted <<<"${entry}"
    say "${service}: ${live} -> ${wanted} (roll back with: scripts/deploy.sh rollback ${service})"
  done
fi
say "deployed ${env_name}"
