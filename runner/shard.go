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
// refused, naming the variables. Under a Kubernetes Indexed Job
// (JOB_COMPLETION_INDEX set) the count is not in the environment: it comes
// from count (--shard-count) or else TINYSCALE_SHARD_COUNT. count, when
// positive, must agree with Slurm's COUNT. Outside both engines it is an
// error.
func ShardFromEnv(getenv func(string) string, count int) (Shard, error) {
	if id := getenv(EnvSlurmTaskID); id != "" {
		num := func(key string) (int, error) {
			v := getenv(key)
			n, err := strconv.Atoi(v)
			if err != nil {
				return 0, fmt.Errorf("--shard auto: %s=%q is not an integer", key, v)
			}
			return n, nil
		}
		vals := map[string]int{}
		for _, k := range []string{EnvSlurmTaskID, EnvSlurmTaskMin, EnvSlurmTaskMax, EnvSlurmTaskCount} {
			n, err := num(k)
			if err != nil {
				return Shard{}, err
			}
			vals[k] = n
		}
		step := 1
		if getenv(EnvSlurmTaskStep) != "" {
			n, err := num(EnvSlurmTaskStep)
			if err != nil {
				return Shard{}, err
			}
			step = n
		}
		k, lo, hi, n := vals[EnvSlurmTaskID], vals[EnvSlurmTaskMin], vals[EnvSlurmTaskMax], vals[EnvSlurmTaskCount]
		if lo != 0 || step != 1 || hi != n-1 || n < 1 {
			return Shard{}, fmt.Errorf("--shard auto needs a plain 0..N-1 job array (sbatch --array=0-N-1[%%P]), got %s=%d %s=%d %s=%d %s=%d: "+
				"the shard count is taken from %s and the index from %s, so the ids must be exactly 0..COUNT-1",
				EnvSlurmTaskMin, lo, EnvSlurmTaskMax, hi, EnvSlurmTaskStep, step, EnvSlurmTaskCount, n, EnvSlurmTaskCount, EnvSlurmTaskID)
		}
		if k < 0 || k > hi {
			return Shard{}, fmt.Errorf("--shard auto: %s=%d outside 0..%d", EnvSlurmTaskID, k, hi)
		}
		if count > 0 && count != n {
			return Shard{}, fmt.Errorf("--shard auto: --shard-count %d disagrees with %s=%d", count, EnvSlurmTaskCount, n)
		}
		return Shard{K: k + 1, N: n}, nil
	}
	if idx := getenv(EnvJobIndex); idx != "" {
		k, err := strconv.Atoi(idx)
		if err != nil {
			return Shard{}, fmt.Errorf("--shard auto: %s=%q is not an integer", EnvJobIndex, idx)
		}
		n := count
		if n <= 0 {
			v := getenv(EnvShardCount)
			if v == "" {
				return Shard{}, fmt.Errorf("--shard auto in a Kubernetes Indexed Job (%s=%d) needs the number of shards: pass --shard-count N (the Job's completions) or set %s", EnvJobIndex, k, EnvShardCount)
			}
			if n, err = strconv.Atoi(v); err != nil || n < 1 {
				return Shard{}, fmt.Errorf("--shard auto: %s=%q is not a positive integer", EnvShardCount, v)
			}
		}
		if k < 0 || k >= n {
			return Shard{}, fmt.Errorf("--shard auto: %s=%d outside 0..%d (shard count %d)", EnvJobIndex, k, n-1, n)
		}
		return Shard{K: k + 1, N: n}, nil
	}
	return Shard{}, fmt.Errorf("--shard auto works inside a Slurm job array (%s) or a Kubernetes Indexed Job (%s), and neither is set; use --shard K/N elsewhere", EnvSlurmTaskID, EnvJobIndex)
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
