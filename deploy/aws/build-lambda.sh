#!/usr/bin/env bash
# Builds herald-lambda for Lambda's provided.al2023 runtime into .build/lambda/ARCH/bootstrap,
# for ARCH arm64 (the default, Graviton) or x86_64: the template's Architecture parameter, which
# must match. On Amazon Linux (2 or 2023) of that architecture with Swift installed it builds
# here; elsewhere it builds in the swift:6.2-amazonlinux2 container for that platform (Docker
# needed; another architecture than the host's runs under emulation, binfmt/QEMU, as Docker
# Desktop has it): a binary built against a newer glibc than Amazon Linux's does not start there.
# Swift's own libraries are linked in (--static-swift-stdlib).
set -euo pipefail
arch="${1:-${ARCH:-arm64}}"
case "$arch" in
    arm64) platform=linux/arm64 machine=aarch64 ;;
    x86_64) platform=linux/amd64 machine=x86_64 ;;
    *) echo "build-lambda.sh: the architecture must be arm64 or x86_64, not $arch" >&2; exit 2 ;;
esac
root="$(cd "$(dirname "$0")/../.." && pwd)"
image="${HERALD_LAMBDA_BUILD_IMAGE:-swift:6.2-amazonlinux2}"
scratch=".build/lambda-build-$arch"
build="swift build -c release --product herald-lambda --static-swift-stdlib --scratch-path $scratch"
if grep -qs 'Amazon Linux' /etc/os-release && [[ "$(uname -m)" == "$machine" ]] && command -v swift >/dev/null; then
    (cd "$root" && $build)
else
    command -v docker >/dev/null || { echo "build-lambda.sh: needs Docker (or Amazon Linux on $arch with Swift) to build for Lambda" >&2; exit 1; }
    docker run --rm --platform "$platform" -v "$root:/src" -w /src "$image" bash -c "$build"
fi
mkdir -p "$root/.build/lambda/$arch"
cp "$root/$scratch/release/herald-lambda" "$root/.build/lambda/$arch/bootstrap"
