package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// headRef64 is the float64 reference of the fused head: loss, dx and dW of
// mean cross-entropy(x W^T, targets).
func headRef64(x, w []float32, targets []int32, n, c, v int) (loss float64, dx, dw []float64) {
	dx, dw = make([]float64, n*c), make([]float64, v*c)
	logits := make([]float64, v)
	for r := range n {
		m := math.Inf(-1)
		for o := range v {
			var s float64
			for i := range c {
				s += float64(x[r*c+i]) * float64(w[o*c+i])
			}
			logits[o] = s
			m = math.Max(m, s)
		}
		var z float64
		for o := range v {
			z += math.Exp(logits[o] - m)
		}
		t := int(targets[r])
		loss += m + math.Log(z) - logits[t]
		for o := range v {
			d := math.Exp(logits[o]-m) / z
			if o == t {
				d--
			}
			d /= float64(n)
			for i := range c {
				dx[r*c+i] += d * float64(w[o*c+i])
				dw[o*c+i] += d * float64(x[r*c+i])
			}
		}
	}
	return loss / float64(n), dx, dw
}

// TestLinearCrossEntropyMatchesReference: the fused head's BLAS path (one
// chunk, several chunks with a partial last one, vector and plain row
// kernels) against the float64 reference, loss and both gradients;
// forward-only mode; and the same bits on a second run.
func TestLinearCrossEntropyMatchesReference(t *testing.T) {
	const n, c, v = 70, 12, 41
	rng := rand.New(rand.NewPCG(7, 8))
	x, w := randSlice(rng, n*c, 1), randSlice(rng, v*c, 0.5)
	targets := make([]int32, n)
	for i := range targets {
		targets[i] = int32(rng.IntN(v))
	}
	wantLoss, wantDx, wantDw := headRef64(x, w, targets, n, c, v)
	for _, chunk := range []int{n, 16, 32} {
		for _, fma := range []bool{false, haveFMA} {
			t.Run(fmt.Sprintf("chunk%d-fma%v", chunk, fma), func(t *testing.T) {
				g := G.NewGraph()
				xn := G.NewTensor(g, tensor.Float32, 2, G.WithShape(n, c), G.WithName("x"), G.WithValue(tensor.New(tensor.WithShape(n, c), tensor.WithBacking(x))))
				wn := G.NewTensor(g, tensor.Float32, 2, G.WithShape(v, c), G.WithName("w"), G.WithValue(tensor.New(tensor.WithShape(v, c), tensor.WithBacking(w))))
				loss, op, err := NewLinearCrossEntropy(xn, wn)
				if err != nil {
					t.Fatal(err)
				}
				op.chunk, op.fma, op.kern = chunk, fma, KernelsGeneric
				if err := op.SetTargets(targets); err != nil {
					t.Fatal(err)
				}
				grads, err := G.Grad(loss, xn, wn)
				if err != nil {
					t.Fatal(err)
				}
				vm := G.NewTapeMachine(g)
				defer vm.Close()
				var first [2][]float32
				for run := range 2 {
					vm.Reset()
					if err := vm.RunAll(); err != nil {
						t.Fatal(err)
					}
					if d := math.Abs(float64(op.Loss()) - wantLoss); d > 1e-6*wantLoss {
						t.Errorf("loss %g, want %g", op.Loss(), wantLoss)
					}
					for k, want := range [][]float64{wantDx, wantDw} {
						got, err := f32(grads[k].Value())
						if err != nil {
							t.Fatal(err)
						}
						for i := range want {
							if math.Abs(float64(got[i])-want[i]) > 1e-6+1e-4*math.Abs(want[i]) {
								t.Fatalf("grad %d [%d] = %g, want %g", k, i, got[i], want[i])
							}
						}
						if run == 0 {
							first[k] = append([]float32(nil), got...)
						} else {
							for i := range got {
								if math.Float32bits(got[i]) != math.Float32bits(first[k][i]) {
									t.Fatalf("grad %d [%d] differs between runs: %g, %g", k, i, got[i], first[k][i])
								}
							}
						}
					}
				}
				op.Training = false
				vm.Reset()
				err = vm.RunAll()
				if err == nil || !strings.Contains(err.Error(), "not run in training mode") {
					t.Errorf("backward after a forward-only pass: %v", err)
				}
			})
		}
	}
}

func TestLinearCrossEntropyBadInput(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 2, G.WithShape(4, 3), G.WithName("x"))
	w := G.NewTensor(g, tensor.Float32, 2, G.WithShape(5, 2), G.WithName("w"))
	if _, _, err := NewLinearCrossEntropy(x, w); err == nil || !strings.Contains(err.Error(), "do not match") {
		t.Errorf("mismatched shapes: %v", err)
	}
	w2 := G.NewTensor(g, tensor.Float32, 2, G.WithShape(5, 3), G.WithName("w2"))
	_, op, err := NewLinearCrossEntropy(x, w2)
	if err != nil {
		t.Fatal(err)
	}
	if err := op.SetTargets([]int32{0, 1, 5, 2}); err == nil || !strings.Contains(err.Error(), "target 5 at position 2 out of range [0, 5)") {
		t.Errorf("bad target: %v", err)
	}
}
