#!/usr/bin/env bash
# Cross-builds licd.exe for x86_64 Windows with Debian's mingw-w64 and packs it as a
# zip with its README (target/windows/licd-VERSION-windows-x86_64.zip). PROFILE picks
# the cargo profile (default release; CI uses ci, the same code without LTO, to
# save minutes). Installs the Rust target and mingw when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=x86_64-pc-windows-gnu
PROFILE=${PROFILE:-release}
rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET"
if ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq gcc-mingw-w64-x86-64
fi
command -v zip >/dev/null || { SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo; DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq zip; }
CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc \
  cargo build --locked --profile "$PROFILE" --target "$TARGET" --bin licd
dir=target/$TARGET/$PROFILE
exe=$dir/licd.exe
file "$exe" | grep -q "PE32+ executable.*x86-64" || { file "$exe"; echo "not a Windows x86-64 executable" >&2; exit 1; }
version=$(grep -m1 '^version' Cargo.toml | cut -d'"' -f2)
out=target/windows
mkdir -p "$out"
zipfile=$out/licd-$version-windows-x86_64.zip
rm -f "$zipfile"
stage=$(mktemp -d)
cp "$exe" "$stage/licd.exe"
cp packaging/windows/README.txt LICENSE "$stage/"
(cd "$stage" && zip -q -9 "$OLDPWD/$zipfile" licd.exe README.txt LICENSE)
echo "windows-build: $(file -b "$exe" | cut -d, -f1), $(du -h "$exe" | cut -f1); $zipfile ($(du -h "$zipfile" | cut -f1))"
