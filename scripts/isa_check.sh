#!/usr/bin/env bash
# Builds the isa-check harness (one whole pack through a scripted day) for the host, bare-metal rv32imc
# and Xtensa (ESP32 configuration), runs the three, and requires byte-identical output.
#   scripts/isa_check.sh           all three legs; prints `isa-check host=… rv32=… xtensa=…`
#   scripts/isa_check.sh --bench   the rv32 leg only; prints `bench pack_cycle_instructions_rv32 N instr`
# Where clang-22 (Debian bookworm-security) is missing, the Xtensa leg says "skipped"; nothing else may skip.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=check
[ "${1:-}" = "--bench" ] && mode=bench
H=tools/isa-check
out=build/isa
rm -rf "$out"
mkdir -p "$out/host" "$out/rv32" "$out/xtensa"

# The firmware's sources from one place: every .c under core/src and protocol/src (files added by
# others are picked up without touching this script).
mapfile -t fw_srcs < <(find core/src protocol/src -name '*.c' | LC_ALL=C sort)
harness=("$H/fmt.c" "$H/plant.c" "$H/bmsslave.c" "$H/world.c" "$H/fwslots.c" "$H/fwsend.c" "$H/run.c" "$H/day.c")
warn=(-std=c11 -Wall -Wextra -Wconversion -Wshadow -Werror)
inc=(-Icore/include -Iprotocol/include "-I$H")
qemu_timeout=900
budget=150000

# Unique object names even when two directories hold files of the same name.
objname() { echo "$1" | tr '/' '_' | sed 's/\.[cS]$//'; }

build_host() {
  cc -O2 "${warn[@]}" "${inc[@]}" "${fw_srcs[@]}" "${harness[@]}" "$H/host.c" -o "$out/host/isa-host"
}

rv32_prog() { # rv32_prog NAME SOURCES...: a bare-metal rv32imc program $out/rv32/NAME.elf
  local name=$1 cc=riscv64-unknown-elf-gcc objs=() s o
  shift
  # -march=rv32imc -mabi=ilp32 picks the rv32im/ilp32 libgcc; -misa-spec=2.2 lets start.S use the
  # CSRs without naming zicsr (which would select the 64-bit multilib).
  local f=(-march=rv32imc -mabi=ilp32 -misa-spec=2.2 -O2 -ffreestanding -nostdlib "${warn[@]}" "${inc[@]}")
  for s in "$@" "$H/mem.c" "$H/rv32/rt.c" "$H/rv32/start.S"; do
    o="$out/rv32/$name-$(objname "$s").o"
    $cc "${f[@]}" -c "$s" -o "$o"
    objs+=("$o")
  done
  $cc "${f[@]}" -T "$H/rv32/link.ld" -Wl,--no-warn-rwx-segments "${objs[@]}" -lgcc -o "$out/rv32/$name.elf"
}

xtensa_prog() { # xtensa_prog NAME SOURCES...: a bare-metal Xtensa (ESP32 core) program $out/xtensa/NAME.elf
  # clang's driver refuses -mcpu=esp32: C -> LLVM IR -> llc for the ESP32's own core configuration
  # (windowed ABI, MUL32, DIV32; no MUL32_HIGH, which de212 lacks too) -> assembly -> llvm-mc.
  # The integrated assembler leaves the .literal section 1-byte aligned, so each file first
  # declares it 4-byte aligned; the linker script puts literals and rodata before .text.
  local name=$1 objs=() s b
  shift
  for s in "$@" "$H/mem.c" "$H/xtensa/rt.c"; do
    b="$out/xtensa/$name-$(objname "$s")"
    clang-22 --target=xtensa -O2 -ffreestanding -fno-builtin "${warn[@]}" "${inc[@]}" -S -emit-llvm "$s" -o "$b.ll"
    llc-22 -mtriple=xtensa -mcpu=esp32 -mattr=-mul32high "$b.ll" -o "$b.raw.s"
    { printf '\t.section .literal,"ax",@progbits\n\t.p2align 2\n\t.text\n'; cat "$b.raw.s"; } >"$b.s"
    llvm-mc-22 -triple=xtensa -mcpu=esp32 -filetype=obj "$b.s" -o "$b.o"
    objs+=("$b.o")
  done
  b="$out/xtensa/$name-start"
  clang-22 -E -P -x assembler-with-cpp "$H/xtensa/start.S" -o "$b.s"
  llvm-mc-22 -triple=xtensa -mcpu=esp32 -filetype=obj "$b.s" -o "$b.o"
  xtensa-lx106-elf-ld --no-relax -nostdlib -T "$H/xtensa/link.ld" "$b.o" "${objs[@]}" -o "$out/xtensa/$name.elf" 2>/dev/null
}

build_rv32() { rv32_prog isa "${fw_srcs[@]}" "${harness[@]}"; }
build_xtensa() { xtensa_prog isa "${fw_srcs[@]}" "${harness[@]}"; }

qemu_rv32() { # qemu_rv32 ELF: strict rv32imc (no A, F, D: such an instruction traps); -icount makes
  # instruction counts exact and the run deterministic
  timeout "$qemu_timeout" qemu-system-riscv32 -machine virt -cpu rv32,a=off,f=off,d=off -nographic \
    -bios none -icount shift=0,align=off,sleep=off -kernel "$1"
}

qemu_xtensa() { # qemu_xtensa ELF: de212, an LX6 windowed core that traps unaligned loads and stores
  timeout "$qemu_timeout" qemu-system-xtensa -machine sim -cpu de212 -semihosting -display none \
    -serial none -monitor none -kernel "$1"
}

run_rv32() { qemu_rv32 "$out/rv32/isa.elf" >"$out/rv32.txt"; }
run_xtensa() { qemu_xtensa "$out/xtensa/isa.elf" >"$out/xtensa.txt"; }

trap_check() { # trap_check LEG EXPECTED: the leg's deliberate fault must end its run with EXPECTED
  local leg=$1 want=$2 rc=0
  "${leg}_prog" trap "$H/traptest.c" >>"$out/$leg.log" 2>&1
  "qemu_$leg" "$out/$leg/trap.elf" >/dev/null 2>&1 || rc=$?
  if [ "$rc" != "$want" ]; then
    echo "isa-check: the $leg leg did not trap as the chip would (exit $rc, want $want)" >&2
    exit 1
  fi
}

run_host() { "$out/host/isa-host" >"$out/host.txt"; }

leg() { # leg NAME: build and run in a subshell of its own (set -e holds there), status in $out/NAME.status
  local name=$1
  set +e
  ( set -e; "build_$name"; "run_$name" ) >"$out/$name.log" 2>&1
  echo $? >"$out/$name.status"
  set -e
}

sum_of() { sed -n 's/^day .* sum=\([0-9a-f]*\)$/\1/p' "$1"; }
per_cycle() { sed -n 's/^# instr .* per_cycle=\([0-9]*\).*/\1/p' "$out/rv32.txt"; }

check_leg() { # check_leg NAME: the leg ran, its run reported no failed expectation
  local name=$1
  if [ "$(cat "$out/$name.status")" != 0 ]; then
    echo "isa-check: $name leg failed (status $(cat "$out/$name.status")):" >&2
    tail -n 30 "$out/$name.log" >&2
    [ -f "$out/$name.txt" ] && grep -E '^(FAIL|day)' "$out/$name.txt" >&2
    exit 1
  fi
}

start=$(date +%s)
if [ "$mode" = bench ]; then
  leg rv32
  check_leg rv32
  n=$(per_cycle)
  echo "bench pack_cycle_instructions_rv32 $n instr"
  [ "$n" -lt "$budget" ] || { echo "isa-check: $n instructions per cycle, budget $budget" >&2; exit 1; }
  exit 0
fi

have_xtensa=1
for t in clang-22 llc-22 llvm-mc-22 xtensa-lx106-elf-ld qemu-system-xtensa; do
  command -v "$t" >/dev/null 2>&1 || have_xtensa=0
done
leg host &
leg rv32 &
[ "$have_xtensa" = 1 ] && leg xtensa &
wait
check_leg host
check_leg rv32
grep -v '^#' "$out/host.txt" >"$out/host.cmp"
grep -v '^#' "$out/rv32.txt" >"$out/rv32.cmp"
if ! cmp -s "$out/host.cmp" "$out/rv32.cmp"; then
  echo "isa-check: rv32imc output differs from the host's:" >&2
  diff "$out/host.cmp" "$out/rv32.cmp" | head -20 >&2
  exit 1
fi
xt=skipped
if [ "$have_xtensa" = 1 ]; then
  check_leg xtensa
  grep -v '^#' "$out/xtensa.txt" >"$out/xtensa.cmp"
  if ! cmp -s "$out/host.cmp" "$out/xtensa.cmp"; then
    echo "isa-check: Xtensa (esp32) output differs from the host's:" >&2
    diff "$out/host.cmp" "$out/xtensa.cmp" | head -20 >&2
    exit 1
  fi
  xt=$(sum_of "$out/xtensa.txt")
else
  echo "isa-check: Xtensa leg skipped (clang-22/llvm-22, binutils-xtensa-lx106 or qemu-system-xtensa missing)"
fi
# Strictness: an atomic on rv32imc is an illegal instruction (exit 100 + 2); an unaligned 32-bit load on
# the ESP32 core is a LoadStoreAlignment exception (exit 100 + 9).
trap_check rv32 102
[ "$have_xtensa" = 1 ] && trap_check xtensa 109
n=$(per_cycle)
echo "isa-check host=$(sum_of "$out/host.txt") rv32=$(sum_of "$out/rv32.txt") xtensa=$xt"
echo "isa-check $(grep -c '^[0-2][0-9]:00 ' "$out/host.cmp") hourly lines identical; rv32 pack instructions per 2-s cycle: $n (budget $budget); $(($(date +%s) - start)) s"
[ "$n" -lt "$budget" ] || { echo "isa-check: over the instruction budget" >&2; exit 1; }
