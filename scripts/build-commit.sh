#!/bin/sh
# build-commit.sh COMMIT OUT — build ./cmd/cskpi of an earlier commit into the executable OUT,
# without touching the work tree: the commit's tree is exported with `git archive` into a
# temporary directory and built there with the module proxy (GOFLAGS=-mod=mod is not used:
# each commit's go.sum is its own). The binary is stamped with the commit's full hash
# (github.com/prometheus/common/version.Revision; builds that do not link that package
# ignore the stamp).
#
# Used by the upgrade fixtures and tests (internal/upgrade): a stored-state layout is made by
# the build that wrote it. Needs the commit in the local history: a shallow clone has to be
# deepened first (git fetch --unshallow).
#
# Exit status: 0 built; 1 the build failed; 2 usage, or the commit is not in the history.
set -eu

usage() {
	echo "usage: $0 COMMIT OUT" >&2
	exit 2
}
[ $# -eq 2 ] || usage
commit=$1
out=$2
[ -n "$commit" ] && [ -n "$out" ] || usage

go=${GO:-go}
if ! command -v "$go" >/dev/null 2>&1; then
	if [ -x /usr/local/go/bin/go ]; then
		go=/usr/local/go/bin/go
	else
		echo "$0: go not found (set GO or install Go from https://go.dev/dl)" >&2
		exit 1
	fi
fi

# The repository this script belongs to, wherever it is called from.
repo=$(cd "$(dirname "$0")/.." && pwd)
if ! git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
	echo "$0: $repo is not a git work tree: building an earlier commit needs the git history" >&2
	exit 2
fi
if ! sha=$(git -C "$repo" rev-parse --verify --quiet "$commit^{commit}"); then
	if [ "$(git -C "$repo" rev-parse --is-shallow-repository 2>/dev/null)" = true ]; then
		echo "$0: commit $commit is not in this shallow clone's history; run 'git fetch --unshallow' (or clone without --depth) and try again" >&2
	else
		echo "$0: commit $commit is not in the git history of $repo (fetch it first)" >&2
	fi
	exit 2
fi

# OUT may be relative to the caller's directory; the build runs elsewhere.
case $out in
/*) ;;
*) out=$(pwd)/$out ;;
esac
mkdir -p "$(dirname "$out")"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cskpi-build-XXXXXX")
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM

git -C "$repo" archive --format=tar "$sha" | tar -x -C "$tmp"

# Build to a temporary name and rename, so that OUT is never a half-written binary (a
# concurrent caller may be waiting for it).
(
	cd "$tmp"
	GOFLAGS=-buildvcs=false "$go" build -trimpath \
		-ldflags "-X github.com/prometheus/common/version.Revision=$sha" \
		-o "$out.tmp.$$" ./cmd/cskpi
) || {
	rm -f "$out.tmp.$$"
	echo "$0: building ./cmd/cskpi of $sha failed" >&2
	exit 1
}
mv -f "$out.tmp.$$" "$out"
echo "$0: built $sha into $out" >&2
