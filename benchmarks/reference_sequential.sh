#!/usr/bin/env bash
# A light stand-in for the reference nim_metadata.sh `generate`, for the benchmarks only: one
# key check, the catalog, then one sequential curl + one jq per model, no retries, no timeouts.
# It does less than the reference script itself (fewer jq runs per model), so it is faster
# than the real thing: a speed-up measured against it understates nim-build's.
# Usage: reference_sequential.sh API_URL API_KEY OUTPUT EU_LIST
set -euo pipefail
api_url=$1 key=$2 output=$3 eu_list=$4

curl -sf -o /dev/null -X POST "$api_url/v3/keys/get-caller-info" \
  -H "Authorization: Bearer $key" -H "Content-Type: application/x-www-form-urlencoded" \
  --data-urlencode "credentials=$key"

ids=()
page=0
while :; do
  q=$(jq -cn --argjson p "$page" '{query: "orgName:nim", page: $p, pageSize: 1000}')
  answer=$(curl -sf -G "$api_url/v2/search/catalog/resources/CONTAINER" --data-urlencode "q=$q")
  mapfile -t found < <(jq -r '.results[] | select(.groupValue == "CONTAINER") | .resources[]
    | select(any(.attributes[]?; .key == "latestTag")) | .resourceId' <<<"$answer")
  ids+=("${found[@]}")
  total=$(jq -r '.resultPageTotal' <<<"$answer")
  [ "$page" -lt $((total - 1)) ] || break
  page=$((page + 1))
done

{
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: nim-models-data\n'
  printf '  labels:\n    opendatahub.io/managed: "true"\ndata:\n'
  for id in "${ids[@]}"; do
    IFS=/ read -r org team repo <<<"$id"
    body=$(curl -sf "$api_url/v2/org/$org/team/$team/repos/$repo?resolve-labels=true" \
      -H "Authorization: Bearer $key") || continue
    printf '  %s: |\n' "$repo"
    jq --slurpfile eu "$eu_list" '{name, displayName, shortDescription, namespace, tags,
      latestTag, updatedDate, euRestricted: (.name as $n | any($eu[0][]; .name == $n))}' \
      <<<"$body" | sed 's/^/    /'
  done
} >"$output"
