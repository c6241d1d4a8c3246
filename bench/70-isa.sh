#!/usr/bin/env bash
# The whole pack on the ESP32-C3 ISA: rv32 instructions per 2-s control cycle over the isa-check day (QEMU -icount).
set -euo pipefail
cd "${ALFA_SOURCE_DIR:-$(dirname "$0")/..}"
scripts/isa_check.sh --bench
