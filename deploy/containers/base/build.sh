#!/bin/sh
# A Python 3.11 base image made from Debian's own packages, for machines that reach no container
# registry (the tests build on it: no python:3.11-slim to pull). It stands in for python:3.11-slim:
# `python` on PATH, CA certificates, and pip allowed to install system-wide (Debian marks its
# Python as externally managed, PEP 668).
# Usage: build.sh IMAGE [MIRROR]   (as root: debootstrap needs it)
set -eu
image=$1
mirror=${2:-http://deb.debian.org/debian}
rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates \
  bookworm "$rootfs" "$mirror"
tar -C "$rootfs" -c . | podman import --change "ENV PIP_BREAK_SYSTEM_PACKAGES=1" --change 'CMD ["python3"]' - "$image"
