#!/usr/bin/env bash
# Pulls a bedrock-mcp image from Amazon ECR and (re)starts it with docker-compose.ecr.yml.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: deploy-from-ecr.sh [options] [TAG]

Deploys bedrock-mcp from ECR on this host (an EC2 instance with the BedrockMCPServerRole
instance profile). Nothing in this script needs editing.

First run: creates .env from .env.example and stops, so that you can set BEDROCK_KB_ID.
Later runs: log in to ECR, pull the image, start it with docker-compose.ecr.yml and wait
until /health answers.

Arguments:
  TAG                   image tag (default: $IMAGE_TAG, else latest)

Options:
  -a, --account ID      AWS account id (default: $AWS_ACCOUNT_ID, else asked of
                        `aws sts get-caller-identity`)
  -r, --region REGION   ECR region (default: $AWS_REGION, $AWS_DEFAULT_REGION, else eu-west-1)
      --repo NAME       ECR repository (default: $ECR_REPOSITORY, else bedrock-mcp-server)
  -d, --dir DIR         directory holding docker-compose.ecr.yml, .env and .env.example
                        (default: the current directory if it holds docker-compose.ecr.yml,
                        else this script's directory, else its parent)
      --url URL         health URL to wait for (default: http://localhost:8000/health)
      --wait SECS       how long to wait for health (default: 60)
  -n, --dry-run         print the commands instead of running them
  -h, --help            show this help

Exit status: 0 deployed and healthy, 1 failed, 2 .env was just created (edit it, run again).
EOF
}

die() { echo "error: $*" >&2; exit 1; }

tag="${IMAGE_TAG:-latest}"
account="${AWS_ACCOUNT_ID:-}"
region="${AWS_REGION:-${AWS_DEFAULT_REGION:-eu-west-1}}"
repo="${ECR_REPOSITORY:-bedrock-mcp-server}"
dir=""
health_url="http://localhost:8000/health"
wait_secs=60
dry_run=false

need_value() { [ "$2" -ge 2 ] || die "$1 needs a value (see --help)"; }

while [ $# -gt 0 ]; do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        -a | --account) need_value "$1" $#; account="$2"; shift ;;
        -r | --region) need_value "$1" $#; region="$2"; shift ;;
        --repo) need_value "$1" $#; repo="$2"; shift ;;
        -d | --dir) need_value "$1" $#; dir="$2"; shift ;;
        --url) need_value "$1" $#; health_url="$2"; shift ;;
        --wait) need_value "$1" $#; wait_secs="$2"; shift ;;
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
[[ "$wait_secs" =~ ^[0-9]+$ ]] || die "--wait must be a whole number of seconds"

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -z "$dir" ]; then
    for candidate in "$PWD" "$script_dir" "$script_dir/.."; do
        if [ -f "$candidate/docker-compose.ecr.yml" ]; then dir="$candidate"; break; fi
    done
    [ -n "$dir" ] || die "docker-compose.ecr.yml not found here, in $script_dir or its parent; use --dir"
fi
dir="$(cd "$dir" && pwd)"
compose_file="$dir/docker-compose.ecr.yml"
env_file="$dir/.env"
[ -f "$compose_file" ] || die "$compose_file not found"
# docker compose reads .env for ${...} interpolation from here (older versions from the CWD).
cd "$dir"

# --- First run: create .env and stop -------------------------------------------------------
if [ ! -f "$env_file" ]; then
    [ -f "$dir/.env.example" ] || die "$env_file is missing and so is $dir/.env.example; copy .env.example here"
    if [ "$dry_run" = true ]; then
        echo "+ cp $dir/.env.example $env_file"
    else
        cp "$dir/.env.example" "$env_file"
        chmod 600 "$env_file"
    fi
    [ "$dry_run" = true ] || echo "Created $env_file from .env.example."
    echo "Edit it (at least BEDROCK_KB_ID and AWS_REGION), then run this script again:"
    echo "  nano $env_file"
    exit 2
fi

# The last assignment wins, as in docker compose; quotes and spaces around the value are dropped.
env_value() {
    grep -E "^[[:space:]]*$1=" "$env_file" | tail -n 1 | cut -d= -f2- |
        sed -e 's/^[[:space:]"'\'']*//' -e 's/[[:space:]"'\'']*$//' || true
}
kb_id="$(env_value BEDROCK_KB_ID)"
if [ -z "$kb_id" ] || [ "$kb_id" = "YOUR_KB_ID" ]; then
    [ -n "$(env_value KB_LOCAL_DIR)" ] || die "set BEDROCK_KB_ID in $env_file (or KB_LOCAL_DIR for a local knowledge base)"
fi

# --- Tools --------------------------------------------------------------------------------
if [ "$dry_run" = true ]; then
    compose=(docker compose)
else
    command -v docker >/dev/null 2>&1 || die "docker is not installed"
    command -v aws >/dev/null 2>&1 || die "the AWS CLI is not installed"
    if docker compose version >/dev/null 2>&1; then
        compose=(docker compose)
    elif command -v docker-compose >/dev/null 2>&1; then
        compose=(docker-compose)
    else
        die "neither 'docker compose' nor 'docker-compose' is installed"
    fi
fi

run() {
    if [ "$dry_run" = true ]; then
        printf '+'; printf ' %q' "$@"; printf '\n'
    else
        "$@"
    fi
}

if [ -z "$account" ]; then
    if [ "$dry_run" = true ]; then
        account="123456789012"
        echo "(dry run: using placeholder account $account)"
    else
        account="$(aws sts get-caller-identity --query Account --output text)" ||
            die "could not find the AWS account id (does this instance have its IAM role? try: aws sts get-caller-identity)"
    fi
fi
[[ "$account" =~ ^[0-9]{12}$ ]] || die "AWS account id must be 12 digits, got '$account'"
registry="$account.dkr.ecr.$region.amazonaws.com"
image="$registry/$repo:$tag"

# --- Record what is deployed in .env, so plain `docker compose ...` commands work later ---
export ECR_REGISTRY="$registry" ECR_REPOSITORY="$repo" IMAGE_TAG="$tag"
if [ "$dry_run" = true ]; then
    echo "+ set ECR_REGISTRY=$registry ECR_REPOSITORY=$repo IMAGE_TAG=$tag in $env_file"
else
    tmp_env="$(mktemp)"
    grep -v -E '^(ECR_REGISTRY|ECR_REPOSITORY|IMAGE_TAG)=' "$env_file" >"$tmp_env" || true
    printf 'ECR_REGISTRY=%s\nECR_REPOSITORY=%s\nIMAGE_TAG=%s\n' "$registry" "$repo" "$tag" >>"$tmp_env"
    # cat, not mv: keeps the file's owner and mode (600).
    cat "$tmp_env" >"$env_file"
    rm -f "$tmp_env"
fi

# --- Pull and start -------------------------------------------------------------------------
echo "Logging in to $registry"
if [ "$dry_run" = true ]; then
    echo "+ aws ecr get-login-password --region $region | docker login --username AWS --password-stdin $registry"
else
    aws ecr get-login-password --region "$region" |
        docker login --username AWS --password-stdin "$registry" >/dev/null ||
        die "ECR login failed; check the instance role's ECR policy (deployment/iam/ecr-policy.json)"
fi

echo "Pulling $image"
run "${compose[@]}" -f "$compose_file" pull ||
    die "pull failed; was $image pushed? (scripts/build-push-ecr.sh $tag)"
echo "Starting bedrock-mcp"
run "${compose[@]}" -f "$compose_file" up -d --remove-orphans

if [ "$dry_run" = true ]; then
    echo "(dry run: would wait up to ${wait_secs}s for $health_url)"
    exit 0
fi

# --- Wait for health --------------------------------------------------------------------------
check_health() {
    if [ -x "$script_dir/health_check.sh" ]; then
        "$script_dir/health_check.sh" --quiet --timeout 3 "$health_url"
    else
        curl -fsS --max-time 3 -o /dev/null "$health_url" 2>/dev/null
    fi
}

echo "Waiting up to ${wait_secs}s for $health_url"
deadline=$((SECONDS + wait_secs))
until check_health; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "error: bedrock-mcp did not become healthy within ${wait_secs}s. Last log lines:" >&2
        "${compose[@]}" -f "$compose_file" logs --tail 50 bedrock-mcp >&2 || true
        "${compose[@]}" -f "$compose_file" ps >&2 || true
        exit 1
    fi
    sleep 2
done

echo
"${compose[@]}" -f "$compose_file" ps
if [ -x "$script_dir/health_check.sh" ]; then
    "$script_dir/health_check.sh" "$health_url" || true
fi
echo
echo "Deployed $image"
echo "Logs:    ${compose[*]} -f $compose_file logs -f bedrock-mcp"
