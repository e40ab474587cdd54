#!/usr/bin/env bash
# Lints docker/Dockerfile and docker/Dockerfile.cuda without a Docker engine (there is none on
# CI or dev machines here, and Debian 12 has no hadolint; it runs too where installed). Beyond
# style, it checks that the images cannot drift from CI: they install packages only through
# scripts/install-deps.sh and build only through scripts/build.sh, the scripts CI runs.
set -uo pipefail
cd "$(dirname "$0")/.."
failures=0
fail() {
  echo "$1: $2" >&2
  failures=$((failures + 1))
}

# CI's own chain, which the images must share.
grep -q "scripts/install-deps.sh" .ci/run || fail .ci/run "does not run scripts/install-deps.sh"
grep -q "scripts/test.sh" .ci/run || fail .ci/run "does not run scripts/test.sh"
grep -q "scripts/build.sh" scripts/test.sh || fail scripts/test.sh "does not run scripts/build.sh"

for file in docker/Dockerfile docker/Dockerfile.cuda; do
  [ -f "$file" ] || { fail "$file" "missing"; continue; }
  # Join continuation lines so that each instruction is one line, numbered by where it starts.
  instructions=$(awk '
    /^[[:space:]]*#/ && !cont { next }
    { line = cont ? line " " $0 : $0; if (!cont) start = NR }
    /\\$/ { sub(/\\$/, "", line); cont = 1; next }
    { cont = 0; if (line ~ /[^[:space:]]/) print start ": " line }' "$file")
  from_count=$(grep -cE "^[0-9]+: FROM " <<<"$instructions")
  [ "$from_count" -ge 2 ] || fail "$file" "not multi-stage (one FROM)"
  while IFS= read -r entry; do
    n=${entry%%:*}
    body=${entry#*: }
    keyword=${body%% *}
    case "$keyword" in
      FROM)
        image=$(awk '{print $2}' <<<"$body")
        if [[ "$image" == \$\{*\} ]]; then
          arg=${image#\$\{}; arg=${arg%\}}
          image=$(grep -E "^ARG $arg=" "$file" | head -1 | cut -d= -f2-)
          [ -n "$image" ] || fail "$file:$n" "FROM \${$arg} has no default in an ARG line"
        fi
        [[ -z "$image" || "$image" == *:* ]] || fail "$file:$n" "image $image has no tag"
        [[ "$image" != *:latest ]] || fail "$file:$n" "image $image is not pinned (:latest)"
        ;;
      RUN)
        if grep -qE "apt-get( -[a-z]+)* install|apt install" <<<"$body"; then
          fail "$file:$n" "installs packages itself; use scripts/install-deps.sh (as CI does)"
        fi
        if grep -qE "(^RUN|&&|;|\|)[[:space:]]+(cmake|make|ninja|g\+\+|c\+\+)[[:space:]]" <<<"$body"; then
          fail "$file:$n" "builds by hand; use scripts/build.sh (as CI does)"
        fi
        for script in $(grep -oE "scripts/[A-Za-z0-9_.-]+\.sh" <<<"$body"); do
          [ -f "$script" ] || fail "$file:$n" "runs $script, which does not exist"
        done
        ;;
      COPY)
        if ! grep -q -- "--from=" <<<"$body"; then
          for src in $(awk '{for (i = 2; i < NF; i++) print $i}' <<<"$body"); do
            [ -e "$src" ] || fail "$file:$n" "copies $src, which does not exist"
          done
        fi
        ;;
    esac
  done <<<"$instructions"
  grep -q "scripts/install-deps.sh" "$file" || fail "$file" "does not install through scripts/install-deps.sh"
  grep -q "scripts/build.sh" "$file" || fail "$file" "does not build through scripts/build.sh"
  # The final stage: everything after the last FROM.
  final=$(awk '/^FROM /{buf = ""} {buf = buf $0 "\n"} END {printf "%s", buf}' "$file")
  user=$(grep -E "^USER " <<<"$final" | tail -1 | awk '{print $2}')
  [ -n "$user" ] || fail "$file" "the final stage runs as root (no USER)"
  [[ "$user" != root && "$user" != 0 ]] || fail "$file" "the final stage runs as root"
  grep -qE '^ENTRYPOINT \["/opt/collab/bin/collab"\]' <<<"$final" ||
    fail "$file" "the entrypoint is not the collab binary"
  grep -qE '^VOLUME ' <<<"$final" || fail "$file" "no data volume"
  if command -v hadolint >/dev/null; then
    hadolint "$file" || fail "$file" "hadolint findings (above)"
  fi
done

for script in scripts/*.sh .ci/run; do
  bash -n "$script" || fail "$script" "is not valid bash"
done

if [ "$failures" -gt 0 ]; then
  echo "check-dockerfiles.sh: $failures problem(s)" >&2
  exit 1
fi
echo "check-dockerfiles.sh: docker/Dockerfile and docker/Dockerfile.cuda are consistent with CI"
