#!/usr/bin/env bash
# Installs braid into a temporary prefix and builds a tiny program against it twice: with CMake's
# find_package(braid) and with pkg-config. Usage: install_consumer.sh BUILD_DIR
set -euo pipefail
build="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
mkdir -p "$tmp/app"
cat >"$tmp/app/main.cc" <<'CC'
#include <braid/braid.h>
#include <braid/communicator.h>
#include <cstdio>
int main() {
  int v = 0;
  braidGetVersion(&v);
  std::printf("braid %s (%d)\n", braid::versionString(), v);
  return v == BRAID_VERSION_CODE ? 0 : 1;
}
CC
cat >"$tmp/app/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.25)
project(consumer CXX)
set(CMAKE_CXX_STANDARD 20)
find_package(braid REQUIRED)
add_executable(consumer main.cc)
target_link_libraries(consumer PRIVATE braid::braid)
CM
cmake -S "$tmp/app" -B "$tmp/app/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/app/build" >/dev/null
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/app/build/consumer"
pc=$(find "$tmp/prefix" -name braid.pc -printf '%h')
PKG_CONFIG_PATH="$pc" g++ -std=c++20 "$tmp/app/main.cc" -o "$tmp/app/pc" $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs braid)
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/app/pc"
echo "install_consumer: find_package and pkg-config both work"
