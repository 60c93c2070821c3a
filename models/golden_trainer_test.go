package models

import (
	"math"
	"slices"
	"testing"
)

// TestGoldenTrainerParity checks the gorgonia training graph against the
// PyTorch goldens: the loss of one Step and every parameter gradient.
func TestGoldenTrainerParity(t *testing.T) {
	for _, path := range goldenFiles(t) {
		g := loadGolden(t, path)
		t.Run(g.name, func(t *testing.T) {
			tr, err := NewTrainer(g.cfg, g.batch, 1)
			if err != nil {
				t.Fatal(err)
			}
			byName := map[string]NamedTensor{}
			for _, w := range g.weights {
				byName[w.Name] = w
			}
			var names []string
			for _, p := range tr.Params() {
				names = append(names, p.Name)
			}
			if !slices.Equal(names, g.paramOrder) {
				t.Errorf("trainer parameter order %v,\nPyTorch named_parameters %v", names, g.paramOrder)
			}
			var ws []NamedTensor
			for _, p := range tr.Params() {
				w, ok := byName[p.Name]
				if !ok {
					t.Fatalf("trainer parameter %q is not in the PyTorch state_dict", p.Name)
				}
				ws = append(ws, w)
			}
			if err := tr.SetWeights(ws); err != nil {
				t.Fatal(err)
			}
			loss, err := tr.Step(g.inputs, g.targets)
			if err != nil {
				t.Fatal(err)
			}
			if !relClose(float64(loss), g.loss, 1e-4) {
				t.Errorf("Step loss = %.7f, PyTorch %.7f", loss, g.loss)
			}
			seen := map[string]bool{}
			for _, p := range tr.Params() {
				want, ok := g.grads[p.Name]
				if !ok {
					t.Errorf("no PyTorch gradient for %q (PyTorch lists a tied matrix under its first name)", p.Name)
					continue
				}
				seen[p.Name] = true
				got := p.Grad()
				if len(got) != len(want) {
					t.Errorf("%s: %d gradient values, PyTorch %d", p.Name, len(got), len(want))
					continue
				}
				var maxAbs, maxErr float64
				for i := range want {
					maxAbs = math.Max(maxAbs, math.Abs(float64(want[i])))
					maxErr = math.Max(maxErr, math.Abs(float64(got[i])-float64(want[i])))
				}
				if maxErr > 1e-3*maxAbs+1e-7 {
					t.Errorf("%s: max |grad - PyTorch| = %.3g, max |PyTorch grad| = %.3g", p.Name, maxErr, maxAbs)
				}
			}
			for name := range g.grads {
				if !seen[name] {
					t.Errorf("PyTorch parameter %q is missing from the trainer", name)
				}
			}
		})
	}
}
