package models

import (
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"

	"github.com/tinyscale/tinyscale/blas"
)

// TestAllocationPerStepPaperShapeOpenBLAS holds the allocation target at the
// paper's sequence and vocabulary sizes (T 256, V 8192, batch 4 to keep it
// quick) on the OpenBLAS path that training uses, where the attention tiles
// and the split BLAS products are exercised at scale. gonum's pure-Go BLAS
// allocates inside every call, so without OpenBLAS the test is skipped.
func TestAllocationPerStepPaperShapeOpenBLAS(t *testing.T) {
	if testing.Short() {
		t.Skip("paper-shape steps take a few seconds")
	}
	impl, info, err := blas.Open(blas.Options{Backend: blas.OpenBLAS})
	if err != nil {
		t.Skipf("OpenBLAS not available: %v", err)
	}
	prev := gorgonia.WhichBLAS()
	gorgonia.Use(impl)
	defer gorgonia.Use(prev)
	t.Logf("blas: %s", info)
	for _, fam := range []string{FamilySilia, FamilyGPT2RoPESwiGLU} {
		t.Run(fam, func(t *testing.T) {
			c, _ := DefaultConfig(fam)
			c.VocabSize, c.BlockSize, c.NLayer, c.NHead, c.NEmbd = 8192, 256, 2, 4, 64
			if fam == FamilyGPT2RoPESwiGLU {
				c.NEmbd = 16 // width 64: keeps the step short
			}
			const B, steps = 4, 4
			tr, err := NewTrainer(c, B, 1)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 1))
			in, tg := randTokens(rng, B*c.BlockSize, c.VocabSize), randTokens(rng, B*c.BlockSize, c.VocabSize)
			perStep := allocPerStep(t, tr, in, tg, steps)
			if perStep >= 1<<20 {
				t.Errorf("%d bytes allocated per step, want < 1 MB", perStep)
			}
			t.Logf("%s: %d bytes/step", fam, perStep)
		})
	}
}
