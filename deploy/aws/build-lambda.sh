#!/usr/bin/env bash
# Builds herald-lambda for Lambda's provided.al2023 runtime into .build/lambda/bootstrap.
# On Amazon Linux (2 or 2023) with Swift installed it builds here; elsewhere it builds in the
# swift:6.2-amazonlinux2 container (Docker needed): a binary built against a newer glibc than
# Amazon Linux's does not start there. Swift's own libraries are linked in (--static-swift-stdlib).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
image="${HERALD_LAMBDA_BUILD_IMAGE:-swift:6.2-amazonlinux2}"
build="swift build -c release --product herald-lambda --static-swift-stdlib --scratch-path .build/lambda-build"
if grep -qs 'Amazon Linux' /etc/os-release && command -v swift >/dev/null; then
    (cd "$root" && $build)
else
    command -v docker >/dev/null || { echo "build-lambda.sh: needs Docker (or Amazon Linux with Swift) to build for Lambda" >&2; exit 1; }
    docker run --rm -v "$root:/src" -w /src "$image" bash -c "$build"
fi
mkdir -p "$root/.build/lambda"
cp "$root/.build/lambda-build/release/herald-lambda" "$root/.build/lambda/bootstrap"
