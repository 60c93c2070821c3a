package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/tinyscale/tinyscale/sweeps"
)

// Environment variables read by ShardFromEnv.
const (
	EnvSlurmTaskID    = "SLURM_ARRAY_TASK_ID"
	EnvSlurmTaskMin   = "SLURM_ARRAY_TASK_MIN"
	EnvSlurmTaskMax   = "SLURM_ARRAY_TASK_MAX"
	EnvSlurmTaskStep  = "SLURM_ARRAY_TASK_STEP"
	EnvSlurmTaskCount = "SLURM_ARRAY_TASK_COUNT"
	EnvJobIndex       = "JOB_COMPLETION_INDEX"
	EnvShardCount     = "TINYSCALE_SHARD_COUNT"
)

// ShardFromEnv resolves `--shard auto`: the shard of this array task.
//
// Under Slurm (SLURM_ARRAY_TASK_ID set) the array must be a plain 0..N-1
// range: SLURM_ARRAY_TASK_MIN=0, SLURM_ARRAY_TASK_STEP=1 (when set) and
// SLURM_ARRAY_TASK_MAX = SLURM_ARRAY_TASK_COUNT-1; the shard is task ID+1 of
// COUNT. Anything else (--array=1-7:2 gives ids 1,3,5,7 with COUNT=4) is
// refused, naming the variables. When the count is given explicitly (count,
// i.e. --shard-count, or TINYSCALE_SHARD_COUNT, which array.sbatch exports),
// the task id is the index whatever the array's shape, so a subset of tasks
// can be resubmitted (sbatch --array=3,17 array.sbatch); it must lie in
// 0..count-1. Under a Kubernetes Indexed Job
// (JOB_COMPLETION_INDEX set) the count is not in the environment: it comes
// from count (--shard-count) or else TINYSCALE_SHARD_COUNT. Outside both
// engines it is an error.
func ShardFromEnv(getenv func(string) string, count int) (Shard, error) {
	explicit, err := explicitCount(getenv, count)
	if err != nil {
		return Shard{}, err
	}
	if id := getenv(EnvSlurmTaskID); id != "" {
		num := func(key string) (int, error) {
			v := getenv(key)
			n, err := strconv.Atoi(v)
			if err != nil {
				return 0, fmt.Errorf("--shard auto: %s=%q is not an integer", key, v)
			}
			return n, nil
		}
		k, err := num(EnvSlurmTaskID)
		if err != nil {
			return Shard{}, err
		}
		if explicit > 0 {
			if k < 0 || k >= explicit {
				return Shard{}, fmt.Errorf("--shard auto: %s=%d outside 0..%d (shard count %d from --shard-count or %s)",
					EnvSlurmTaskID, k, explicit-1, explicit, EnvShardCount)
			}
			return Shard{K: k + 1, N: explicit}, nil
		}
		vals := map[string]int{}
		for _, key := range []string{EnvSlurmTaskMin, EnvSlurmTaskMax, EnvSlurmTaskCount} {
			n, err := num(key)
			if err != nil {
				return Shard{}, err
			}
			vals[key] = n
		}
		step := 1
		if getenv(EnvSlurmTaskStep) != "" {
			n, err := num(EnvSlurmTaskStep)
			if err != nil {
				return Shard{}, err
			}
			step = n
		}
		lo, hi, n := vals[EnvSlurmTaskMin], vals[EnvSlurmTaskMax], vals[EnvSlurmTaskCount]
		if lo != 0 || step != 1 || hi != n-1 || n < 1 {
			return Shard{}, fmt.Errorf("--shard auto needs a plain 0..N-1 job array (sbatch --array=0-N-1[%%P]), got %s=%d %s=%d %s=%d %s=%d: "+
				"the shard count is taken from %s and the index from %s, so the ids must be exactly 0..COUNT-1 "+
				"(or give the count: --shard-count N or %s)",
				EnvSlurmTaskMin, lo, EnvSlurmTaskMax, hi, EnvSlurmTaskStep, step, EnvSlurmTaskCount, n, EnvSlurmTaskCount, EnvSlurmTaskID, EnvShardCount)
		}
		if k < 0 || k > hi {
			return Shard{}, fmt.Errorf("--shard auto: %s=%d outside 0..%d", EnvSlurmTaskID, k, hi)
		}
		return Shard{K: k + 1, N: n}, nil
	}
	if idx := getenv(EnvJobIndex); idx != "" {
		k, err := strconv.Atoi(idx)
		if err != nil {
			return Shard{}, fmt.Errorf("--shard auto: %s=%q is not an integer", EnvJobIndex, idx)
		}
		n := explicit
		if n <= 0 {
			return Shard{}, fmt.Errorf("--shard auto in a Kubernetes Indexed Job (%s=%d) needs the number of shards: pass --shard-count N (the Job's completions) or set %s", EnvJobIndex, k, EnvShardCount)
		}
		if k < 0 || k >= n {
			return Shard{}, fmt.Errorf("--shard auto: %s=%d outside 0..%d (shard count %d)", EnvJobIndex, k, n-1, n)
		}
		return Shard{K: k + 1, N: n}, nil
	}
	return Shard{}, fmt.Errorf("--shard auto works inside a Slurm job array (%s) or a Kubernetes Indexed Job (%s), and neither is set; use --shard K/N elsewhere", EnvSlurmTaskID, EnvJobIndex)
}

// explicitCount is count when positive, else TINYSCALE_SHARD_COUNT, else 0.
func explicitCount(getenv func(string) string, count int) (int, error) {
	if count > 0 {
		return count, nil
	}
	v := getenv(EnvShardCount)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("--shard auto: %s=%q is not a positive integer", EnvShardCount, v)
	}
	return n, nil
}

// PlanHash is the hex sha256 of the expanded plan: each run's name and
// config hash, one per line, in expansion order. Run i goes to shard i%N, so
// two shards agree on which run is whose exactly when their plan hashes are
// equal; it is recorded in each shard database (store.MetaPlanSHA256).
func PlanHash(runs []sweeps.Run) string {
	h := sha256.New()
	for _, r := range runs {
		fmt.Fprintf(h, "%s\t%s\n", r.Name, r.Hash())
	}
	return hex.EncodeToString(h.Sum(nil))
}
