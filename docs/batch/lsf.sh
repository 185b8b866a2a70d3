#!/bin/bash
# NVLink2 audit on an LSF + jsrun machine (Summit/Sierra style): one resource set per node.
#   bsub -nnodes 64 -W 5 -P PROJECT docs/batch/lsf.sh
#BSUB -J lsnvlink-audit
#BSUB -o lsnvlink-audit-%J.out
set -euo pipefail
out=${LSNVLINK_AUDIT_DIR:-$PWD/lsnvlink-audit-$LSB_JOBID}
mkdir -p "$out"
nodes=$(echo "$LSB_MCPU_HOSTS" | awk '{for (i = 3; i <= NF; i += 2) print $i}' | wc -l)
jsrun --nrs "$nodes" --rs_per_host 1 --tasks_per_rs 1 --cpu_per_rs 1 \
    bash -c 'lsnvlink capture --force -o "'"$out"'/$(hostname -s).tar.gz"'
lsnvlink fleet "$out" | tee "$out/fleet.txt"
