#!/bin/bash
# NVLink2 audit of every node of the allocation: one task per node writes a capture, then
# one fleet view compares them.
#   sbatch --nodes=64 docs/batch/slurm.sh
#SBATCH --job-name=lsnvlink-audit
#SBATCH --ntasks-per-node=1
#SBATCH --time=00:05:00
#SBATCH --output=lsnvlink-audit-%j.out
set -euo pipefail
out=${LSNVLINK_AUDIT_DIR:-$PWD/lsnvlink-audit-$SLURM_JOB_ID}
mkdir -p "$out"
# One task per node, each naming its capture after its host.
srun --ntasks-per-node=1 bash -c 'lsnvlink capture --force -o "'"$out"'/$(hostname -s).tar.gz"'
lsnvlink fleet --format json "$out" > "$out/fleet.jsonl" || true
# Exit 1 (an error finding on some node) or 2 (an unreadable capture) fails the job.
lsnvlink fleet "$out" | tee "$out/fleet.txt"
