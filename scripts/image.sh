#!/usr/bin/env bash
# The container image, built here without a container engine or a registry:
#   scripts/image.sh build   the image ($IMAGE) from ./Containerfile with Debian's buildah
#                            (--isolation chroot) on a Debian bookworm base made by debootstrap
#   scripts/image.sh clean   remove the images, build cache and base rootfs this script made
# The base rootfs (a tarball) is cached in $POCKETPING_IMAGE_CACHE (default
# ~/.cache/pocketping-image) and imported once into buildah's storage; buildah keeps the layers
# (--layers), so a rebuild without changes takes seconds. Elsewhere, build as usual:
# `docker build -t pocketping .` (base python:3.12-slim).
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${POCKETPING_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pocketping-image}
IMAGE=${IMAGE:-localhost/pocketping:latest}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
PACKAGES=python3,python3-venv,ca-certificates
TRIM=2  # bump when make_rootfs trims differently (a new tag: the cached base is made again)
BASE_TAG=$SUITE-$(printf '%s %s %s' "$SUITE" "$PACKAGES" "$TRIM" | sha256sum | cut -c1-12)
BASE=localhost/pocketping-base:$BASE_TAG
ROOTFS_TAR=$CACHE/debian-$BASE_TAG.tar

have_image() { buildah inspect --type image "$1" >/dev/null 2>&1; }

make_rootfs() {
  # debootstrap a minimal Debian with Python, trimmed the way slim images are (no package lists,
  # downloaded packages, manuals, docs or translations).
  local dir=$CACHE/rootfs.tmp
  rm -rf "$dir" "$ROOTFS_TAR.tmp"
  mkdir -p "$CACHE"
  echo "debootstrap $SUITE (+ $PACKAGES) from $MIRROR"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$dir" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
    || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc/* \
         "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/locale/* "$dir"/var/log/*
  # As python:*-slim does: no bytecode of the standard library (compiled as it is imported), and
  # none of what only help() reads. glibc's iconv modules: no program of the image uses iconv (Python's
  # codecs are its own), 9 MB.
  find "$dir"/usr/lib/python3* -depth -type d -name __pycache__ -exec rm -rf {} +
  rm -rf "$dir"/usr/lib/python3*/pydoc_data "$dir"/usr/lib/x86_64-linux-gnu/gconv/*.so
  tar --numeric-owner --xattrs -C "$dir" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
      -cf "$ROOTFS_TAR.tmp" .
  mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
  rm -rf "$dir"
}

import_base() {
  [ -f "$ROOTFS_TAR" ] || make_rootfs
  echo "importing $ROOTFS_TAR as $BASE"
  local ctr
  ctr=$(buildah from scratch)
  buildah add --quiet "$ctr" "$ROOTFS_TAR" / >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 \
    --cmd /bin/sh "$ctr"
  buildah commit --quiet --rm "$ctr" "$BASE" >/dev/null
}

pip_setting() {  # NAME: this machine's pip setting (environment first, then pip's configuration files)
  local env_name=PIP_${1^^}
  env_name=${env_name//-/_}
  if [ -n "${!env_name:-}" ]; then echo "${!env_name}"; else python3 -m pip config get "global.$1" 2>/dev/null || true; fi
}

build() {
  have_image "$BASE" || import_base
  # The build's pip reaches the package index the way this machine's pip does: the same index
  # and the same certificate authorities (a proxy here re-signs the index's TLS).
  local args=(--build-arg BASE="$BASE") cert index
  cert=$(pip_setting cert)
  if [ -n "$cert" ] && [ -f "$cert" ]; then
    args+=(--volume "$cert:/tmp/host-ca.crt:ro" --build-arg PIP_CERT=/tmp/host-ca.crt)
  fi
  index=$(pip_setting index-url)
  [[ "$index" == http* ]] || index=https://pypi.org/simple
  args+=(--build-arg PIP_INDEX_URL="$index")
  # --format docker keeps the HEALTHCHECK (the OCI image format has no field for it).
  buildah bud --isolation chroot --layers --format docker --quiet "${args[@]}" -f Containerfile -t "$IMAGE" . \
    >/dev/null
  echo "built $IMAGE on $BASE"
}

clean() {
  buildah containers --format '{{.ContainerID}} {{.ImageName}}' 2>/dev/null \
    | awk -v a="$IMAGE" -v b="$BASE" '$2 == a || $2 == b {print $1}' | xargs -r buildah rm >/dev/null
  for image in "$IMAGE" "$BASE"; do
    if have_image "$image"; then buildah rmi --force "$image" >/dev/null; fi
  done
  buildah rmi --prune >/dev/null 2>&1 || true  # the intermediate layers of our builds
  rm -rf "$CACHE" /var/tmp/buildah-cache
  echo "removed $IMAGE, $BASE, the build cache and $CACHE"
}

case "${1:-build}" in
  build) build ;;
  clean) clean ;;
  *) echo "usage: $0 [build|clean]" >&2; exit 2 ;;
esac
