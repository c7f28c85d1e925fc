#!/usr/bin/env bash
# File reads: 4 KiB random and 128 KiB sequential over one file, in the page
# cache and with O_DIRECT, at queue depth 1, 32 and 128: asio_uring vs
# Asio's random_access_file (its io_uring backend) vs fio's io_uring engine
# vs pread from a thread per queue slot. Reads per second, median of RUNS.
# Every column runs pinned to CPU 0 (the pread pool's threads share it).
#   bench/file.sh [FILE_MB] [RUNS] [SECONDS]     (defaults 1024 5 2)
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-1024}
RUNS=${2:-5}
SECS=${3:-2}
B=${BUILD:-build-release}
if [ -z "${SKIP_BUILD:-}" ]; then
  ASIO_URING_EXTRA_PACKAGES="fio bc" .ci/deps
  cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DASIO_URING_TESTS=OFF >/dev/null
  cmake --build "$B" --target bench_file bench_file_asio >/dev/null
fi
file=${FILE:-$PWD/$B/bench_file.data}
if [ ! -f "$file" ] || [ "$(stat -c %s "$file")" -ne $((MB * 1048576)) ]; then
  head -c $((MB * 1048576)) /dev/urandom >"$file"
fi
cat "$file" >/dev/null  # into the page cache

median() { sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
fio_rate() {  # pattern block qd direct
  local rw=randread
  [ "$1" = seq ] && rw=read
  taskset -c 0 fio --name=b --filename="$file" --rw=$rw --bs="$2" --iodepth="$3" --direct="$4" \
    --ioengine=io_uring --invalidate=0 --time_based --runtime="$SECS" --output-format=terse --terse-version=3 \
    --numjobs=1 --thread 2>/dev/null | awk -F';' '{print $8}'
}

printf "%-26s %12s %12s %12s %12s %10s %10s\n" "reads/s" asio_uring asio_file fio pread "vs fio" "vs asio"
for direct in 0 1; do
  for pattern in "rand 4096" "seq 131072"; do
    set -- $pattern
    for qd in 1 32 128; do
      label="$1 $(( $2 / 1024 ))K qd=$qd $([ $direct = 1 ] && echo direct || echo cached)"
      # Runs alternate between implementations so that drift of the
      # (virtual) disk's throughput hits every column alike.
      declare -A V=([uring]="" [asio]="" [fio]="" [pread]="")
      declare -A R
      for _ in $(seq "$RUNS"); do
        for impl in uring asio fio pread; do
          case $impl in
            uring) v=$(taskset -c 0 "$B/bench/bench_file" uring "$file" $1 $2 $qd "$SECS" $direct) ;;
            asio) v=$(taskset -c 0 "$B/bench/bench_file_asio" asio "$file" $1 $2 $qd "$SECS" $direct) ;;
            fio) v=$(fio_rate $1 $2 $qd $direct) ;;
            pread) v=$(taskset -c 0 "$B/bench/bench_file" pread "$file" $1 $2 $qd "$SECS" $direct) ;;
          esac
          V[$impl]+="$v "
        done
      done
      for impl in uring asio fio pread; do
        R[$impl]=$(printf "%s\n" ${V[$impl]} | median)
      done
      printf "%-26s %12.0f %12.0f %12.0f %12.0f %9.2fx %9.2fx\n" "$label" "${R[uring]}" "${R[asio]}" \
        "${R[fio]}" "${R[pread]}" "$(echo "${R[uring]} / ${R[fio]}" | bc -l)" \
        "$(echo "${R[uring]} / ${R[asio]}" | bc -l)"
    done
  done
done
