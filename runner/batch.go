package runner

import (
	"fmt"
	"math/rand/v2"
)

// Stream constants that separate the PCG streams drawn from one run seed.
const (
	streamBatches = 0x7473_6361_6c65_0001 // training windows
	streamEval    = 0x7473_6361_6c65_0002 // train/val eval windows
)

// sampler draws random windows of block_size+1 tokens from a split. Its whole
// state is the PCG state plus the number of windows drawn (the cursor), both
// saved in every checkpoint.
type sampler struct {
	pcg    *rand.PCG
	rng    *rand.Rand
	cursor int64
}

// newSampler seeds a sampler with the run seed and a stream constant.
func newSampler(seed, stream uint64) *sampler {
	p := rand.NewPCG(seed, stream)
	return &sampler{pcg: p, rng: rand.New(p)}
}

// state returns the marshalled PCG state.
func (s *sampler) state() ([]byte, error) {
	b, err := s.pcg.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("marshal batch RNG: %w", err)
	}
	return b, nil
}

// restore sets the PCG state and cursor saved by state.
func (s *sampler) restore(b []byte, cursor int64) error {
	if err := s.pcg.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("restore batch RNG: %w", err)
	}
	s.cursor = cursor
	return nil
}

// fill writes B random windows of src into inputs and targets (B*T each,
// row-major; targets are inputs shifted by one token).
func (s *sampler) fill(src []int32, B, T int, inputs, targets []int32) {
	for b := 0; b < B; b++ {
		start := s.rng.IntN(len(src) - T)
		copy(inputs[b*T:(b+1)*T], src[start:start+T])
		copy(targets[b*T:(b+1)*T], src[start+1:start+T+1])
		s.cursor++
	}
}

// fillAt writes the windows starting at the given positions.
func fillAt(src []int32, T int, starts []int, inputs, targets []int32) {
	for b, start := range starts {
		copy(inputs[b*T:(b+1)*T], src[start:start+T])
		copy(targets[b*T:(b+1)*T], src[start+1:start+T+1])
	}
}

// evenStarts returns n window starts spread evenly over src (deterministic:
// the same for every run with the same split and block size).
func evenStarts(srcLen, T, n int) []int {
	last := srcLen - T - 1
	out := make([]int, n)
	for i := range out {
		if n > 1 {
			out[i] = int(int64(i) * int64(last) / int64(n-1))
		}
	}
	return out
}
