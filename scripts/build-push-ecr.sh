#!/usr/bin/env bash
# Builds the multi-arch scratch image (Dockerfile.scratch: linux/amd64 and linux/arm64) and
# pushes it to Amazon ECR with docker buildx.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: build-push-ecr.sh [options] [TAG]

Builds Dockerfile.scratch for linux/amd64 and linux/arm64 (Graviton) with docker buildx,
tags it TAG (and the git short SHA when run in a git checkout) and pushes one multi-arch image
to ECR: each EC2 instance pulls the binary for its own processor. Runs with your own AWS
credentials (it needs ECR push rights; see deployment/iam/README.md). Nothing in this script
needs editing.

Arguments:
  TAG                   image tag (default: $IMAGE_TAG, else latest)

Options:
  -a, --account ID      AWS account id (default: $AWS_ACCOUNT_ID, else asked of
                        `aws sts get-caller-identity`)
  -r, --region REGION   ECR region (default: $AWS_REGION, $AWS_DEFAULT_REGION, else eu-west-1)
      --repo NAME       ECR repository (default: $ECR_REPOSITORY, else bedrock-mcp-server)
      --platform P      platforms, comma-separated (default: linux/amd64,linux/arm64)
      --from-dist       put the binaries scripts/release.sh wrote to dist/ into the image,
                        byte for byte (checked against dist/SHA256SUMS), instead of compiling
                        in the builder; run scripts/release.sh first
      --no-push         build only; no login, no push (a single platform is also loaded
                        into the local image store)
  -n, --dry-run         print the commands instead of running them
  -h, --help            show this help

Examples:
  ./scripts/build-push-ecr.sh                       # latest + git SHA
  ./scripts/build-push-ecr.sh v1.0.0
  ./scripts/release.sh && ./scripts/build-push-ecr.sh --from-dist v1.0.0
  ./scripts/build-push-ecr.sh --platform linux/arm64 --no-push   # local arm64 image
  AWS_ACCOUNT_ID=123456789012 AWS_REGION=eu-west-1 ./scripts/build-push-ecr.sh v1.0.0
EOF
}

die() { echo "error: $*" >&2; exit 1; }

tag="${IMAGE_TAG:-latest}"
account="${AWS_ACCOUNT_ID:-}"
region="${AWS_REGION:-${AWS_DEFAULT_REGION:-eu-west-1}}"
repo="${ECR_REPOSITORY:-bedrock-mcp-server}"
platform="linux/amd64,linux/arm64"
from_dist=false
push=true
dry_run=false

need_value() { [ "$2" -ge 2 ] || die "$1 needs a value (see --help)"; }

while [ $# -gt 0 ]; do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        -a | --account) need_value "$1" $#; account="$2"; shift ;;
        -r | --region) need_value "$1" $#; region="$2"; shift ;;
        --repo) need_value "$1" $#; repo="$2"; shift ;;
        --platform) need_value "$1" $#; platform="$2"; shift ;;
        --from-dist) from_dist=true ;;
        --no-push) push=false ;;
        -n | --dry-run) dry_run=true ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) tag="$1" ;;
    esac
    shift
done

[[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "'$tag' is not a valid image tag"
[[ "$region" =~ ^[a-z]{2}(-[a-z]+)+-[0-9]+$ ]] || die "'$region' does not look like an AWS region"
[[ "$repo" =~ ^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$ ]] ||
    die "'$repo' is not a valid ECR repository name"

run() {
    if [ "$dry_run" = true ]; then
        printf '+'; printf ' %q' "$@"; printf '\n'
    else
        "$@"
    fi
}

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -f "$root/Dockerfile.scratch" ] || die "Dockerfile.scratch not found in $root"

[[ "$platform" =~ ^linux/(amd64|arm64)(,linux/(amd64|arm64))*$ ]] ||
    die "--platform takes linux/amd64, linux/arm64 or both, comma-separated; got '$platform'"

if [ "$dry_run" = false ]; then
    command -v docker >/dev/null 2>&1 || die "docker is not installed"
    docker buildx version >/dev/null 2>&1 ||
        die "docker buildx is not installed (Docker Desktop has it; on Linux: the docker-buildx-plugin package)"
fi
if [ "$from_dist" = true ]; then
    [ -f "$root/dist/SHA256SUMS" ] || die "no dist/SHA256SUMS: run scripts/release.sh first"
    (cd "$root/dist" && sha256sum --quiet -c SHA256SUMS) || die "dist/ does not match its SHA256SUMS"
fi

if [ -z "$account" ] && [ "$push" = true ]; then
    command -v aws >/dev/null 2>&1 || die "the AWS CLI is not installed; pass --account or set AWS_ACCOUNT_ID"
    account="$(aws sts get-caller-identity --query Account --output text)" ||
        die "could not find your AWS account id (are you logged in? try: aws sts get-caller-identity)"
fi
if [ -n "$account" ]; then
    [[ "$account" =~ ^[0-9]{12}$ ]] || die "AWS account id must be 12 digits, got '$account'"
fi

# Tags: the requested one, plus the commit (marked -dirty when the tree has local changes) so
# every pushed image can be traced back to its source.
tags=("$tag")
revision=""
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    revision="$(git -C "$root" rev-parse HEAD)"
    sha="$(git -C "$root" rev-parse --short HEAD)"
    if [ -n "$(git -C "$root" status --porcelain 2>/dev/null)" ]; then
        sha="$sha-dirty"
    fi
    [ "$sha" = "$tag" ] || tags+=("$sha")
fi

registry=""
[ -n "$account" ] && registry="$account.dkr.ecr.$region.amazonaws.com"

# Cross-compiles in the builder (no emulation needed); a multi-platform result cannot be
# loaded into the local image store, so it is pushed straight from buildx.
build_args=(docker buildx build --platform "$platform" -f "$root/Dockerfile.scratch"
    --label "org.opencontainers.image.version=$tag")
# --push pushes every tag, so the bare local name only when nothing is pushed.
[ "$push" = true ] || build_args+=(-t "$repo:$tag")
[ "$from_dist" = false ] || build_args+=(--build-arg BINARY_FROM=dist)
if [ "$push" = true ]; then
    build_args+=(--push)
elif [[ "$platform" != *,* ]]; then
    build_args+=(--load)
fi
[ -n "$revision" ] && build_args+=(--label "org.opencontainers.image.revision=$revision")
if [ -n "$registry" ]; then
    for t in "${tags[@]}"; do build_args+=(-t "$registry/$repo:$t"); done
fi
build_args+=("$root")

if [ "$push" = true ]; then
    echo "Logging in to $registry"
    if [ "$dry_run" = true ]; then
        echo "+ aws ecr get-login-password --region $region | docker login --username AWS --password-stdin $registry"
    else
        aws ecr get-login-password --region "$region" |
            docker login --username AWS --password-stdin "$registry" >/dev/null ||
            die "ECR login failed for $registry (check your credentials and region)"
    fi
fi

echo "Building $repo:$tag ($platform)"
run "${build_args[@]}" ||
    die "build or push failed; if the push was refused, does the repository exist? aws ecr create-repository --repository-name $repo --region $region"

if [ "$push" = false ]; then
    echo "Built $repo:$tag${registry:+ and tagged it for $registry/$repo} (not pushed)."
    exit 0
fi

echo
echo "Pushed:"
for t in "${tags[@]}"; do echo "  $registry/$repo:$t"; done
if [ "$dry_run" = false ]; then
    digest="$(docker buildx imagetools inspect "$registry/$repo:$tag" --format '{{.Manifest.Digest}}' 2>/dev/null || true)"
    [ -n "$digest" ] && echo "Digest (multi-arch index): $digest"
fi
echo
echo "Deploy on the EC2 host with: ./scripts/deploy-from-ecr.sh $tag"
