package models

import (
	"runtime"
	"testing"
)

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestTrainBytesMatchesMeasuredHeap builds each family's trainer at a shape
// the coefficients were not fitted on, runs two steps and compares the live
// heap it holds with TrainBytes: within 30 %.
func TestTrainBytesMatchesMeasuredHeap(t *testing.T) {
	const B, T, V = 8, 96, 1024
	for _, fam := range Families() {
		t.Run(fam, func(t *testing.T) {
			cfg, err := DefaultConfig(fam)
			if err != nil {
				t.Fatal(err)
			}
			cfg.NEmbd, cfg.NHead, cfg.NLayer, cfg.BlockSize, cfg.VocabSize = 96, 4, 3, T, V
			if fam == FamilyGPT2RoPESwiGLU || fam == FamilySiliaXGA {
				cfg.NEmbd = 24 // head dim: width 96
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			h0 := liveHeap()
			tr, err := NewTrainer(cfg, B, 1)
			if err != nil {
				t.Fatal(err)
			}
			in := make([]int32, B*T)
			for i := range in {
				in[i] = int32(i*7) % V
			}
			for range 2 {
				if _, err := tr.Step(in, in); err != nil {
					t.Fatal(err)
				}
			}
			got := float64(liveHeap()) - float64(h0)
			runtime.KeepAlive(tr)
			est := float64(cfg.TrainBytes(B))
			if r := got / est; r < 0.7 || r > 1.3 {
				t.Errorf("measured %.1f MB, estimate %.1f MB (ratio %.2f)", got/1e6, est/1e6, r)
			} else {
				t.Logf("measured %.1f MB, estimate %.1f MB (ratio %.2f)", got/1e6, est/1e6, r)
			}
		})
	}
}
