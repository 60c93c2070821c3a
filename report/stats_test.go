package report

import (
	"math"
	"testing"
)

func TestMeanStd(t *testing.T) {
	tests := []struct {
		name      string
		xs        []float64
		mean, std float64
	}{
		{"empty", nil, math.NaN(), math.NaN()},
		{"one", []float64{3}, 3, math.NaN()},
		{"two", []float64{1, 3}, 2, math.Sqrt2},
		{"textbook", []float64{2, 4, 4, 4, 5, 5, 7, 9}, 5, math.Sqrt(32.0 / 7)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if m := Mean(tt.xs); !closeOrNaN(m, tt.mean, 1e-12) {
				t.Errorf("Mean = %v, want %v", m, tt.mean)
			}
			if s := Std(tt.xs); !closeOrNaN(s, tt.std, 1e-12) {
				t.Errorf("Std = %v, want %v", s, tt.std)
			}
		})
	}
}

func closeOrNaN(got, want, tol float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

// Reference quantiles from standard t tables (R: qt(p, df)).
func TestTQuantile(t *testing.T) {
	tests := []struct {
		p, df, want float64
	}{
		{0.975, 1, 12.706204736},
		{0.975, 2, 4.302652730},
		{0.975, 3, 3.182446305},
		{0.975, 4, 2.776445105},
		{0.975, 9, 2.262157163},
		{0.975, 30, 2.042272456},
		{0.95, 5, 2.015048373},
		{0.995, 10, 3.169272673},
		{0.025, 4, -2.776445105},
		{0.5, 7, 0},
		{0.975, 1e6, 1.959966},
	}
	for _, tt := range tests {
		got, err := TQuantile(tt.p, tt.df)
		if err != nil {
			t.Fatalf("TQuantile(%v, %v): %v", tt.p, tt.df, err)
		}
		if math.Abs(got-tt.want) > 1e-6 {
			t.Errorf("TQuantile(%v, %v) = %.9f, want %.9f", tt.p, tt.df, got, tt.want)
		}
	}
	for _, bad := range [][2]float64{{0, 3}, {1, 3}, {0.9, 0}, {math.NaN(), 2}} {
		if _, err := TQuantile(bad[0], bad[1]); err == nil {
			t.Errorf("TQuantile(%v, %v): no error", bad[0], bad[1])
		}
	}
}

func TestTInterval(t *testing.T) {
	// Differences with mean 0.1 and sd 0.05 over 4 seeds:
	// half width = 3.182446 * sd / 2.
	xs := []float64{0.05, 0.1, 0.15, 0.1}
	iv, err := TInterval(xs, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	sd := Std(xs)
	want := 3.182446305 * sd / 2
	if math.Abs(iv.HalfWidth-want) > 1e-8 || math.Abs(iv.Mean-0.1) > 1e-12 {
		t.Errorf("interval %+v, want mean 0.1 half width %v", iv, want)
	}
	if iv.ContainsZero() {
		t.Errorf("interval %+v should exclude 0", iv)
	}
	iv, _ = TInterval([]float64{-0.1, 0.1, 0.05}, 0.95)
	if !iv.ContainsZero() {
		t.Errorf("interval %+v should contain 0", iv)
	}
	iv, _ = TInterval([]float64{0.3}, 0.95)
	if iv.N != 1 || !math.IsNaN(iv.Lo) {
		t.Errorf("one value: %+v, want NaN bounds", iv)
	}
	if _, err := TInterval(xs, 1.5); err == nil {
		t.Error("level 1.5: no error")
	}
}

func TestEMA(t *testing.T) {
	got := EMA([]float64{math.NaN(), 2, 2, math.NaN(), 4}, 0.5)
	want := []float64{math.NaN(), 2, 2, 2, 2 + 2*0.5/(1-0.125)}
	for i := range want {
		if !closeOrNaN(got[i], want[i], 1e-12) {
			t.Errorf("EMA[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestFitPowerLaw(t *testing.T) {
	tests := []struct {
		name    string
		a, b, c float64
		sizes   []float64
		noise   []float64
		tol     float64
	}{
		{"exact", 40, 0.3, 1.5, []float64{5e5, 1e6, 2e6, 5e6, 1e7, 2e7}, nil, 1e-4},
		{"three sizes", 12, 0.2, 2.0, []float64{1e6, 4e6, 1.6e7}, nil, 1e-3},
		{"no floor", 100, 0.35, 0, []float64{1e5, 1e6, 1e7, 1e8}, nil, 1e-4},
		{"noisy", 40, 0.3, 1.5, []float64{5e5, 1e6, 2e6, 5e6, 1e7, 2e7}, []float64{0.002, -0.001, 0.001, -0.002, 0.001, 0}, 0.15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ys := make([]float64, len(tt.sizes))
			for i, n := range tt.sizes {
				ys[i] = tt.a*math.Pow(n, -tt.b) + tt.c
				if tt.noise != nil {
					ys[i] += tt.noise[i]
				}
			}
			p, err := FitPowerLaw(tt.sizes, ys)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(p.B-tt.b) > tt.tol*tt.b || math.Abs(p.C-tt.c) > tt.tol*math.Max(1, tt.c) {
				t.Errorf("fit %v, want a=%v b=%v c=%v", p, tt.a, tt.b, tt.c)
			}
			for i, n := range tt.sizes {
				if math.Abs(p.At(n)-ys[i]) > 0.01 {
					t.Errorf("L(%g) = %v, data %v", n, p.At(n), ys[i])
				}
			}
			// Inverse round-trips inside the fitted range.
			mid := tt.sizes[1]
			if inv := p.Inverse(p.At(mid)); math.Abs(inv-mid)/mid > 1e-6 {
				t.Errorf("Inverse(At(%g)) = %g", mid, inv)
			}
		})
	}
	bad := []struct {
		name  string
		n, ys []float64
	}{
		{"two sizes", []float64{1e6, 1e6, 2e6}, []float64{3, 3.1, 2.9}},
		{"rising", []float64{1e6, 2e6, 4e6}, []float64{2, 2.5, 3}},
		{"zero size", []float64{0, 2e6, 4e6}, []float64{3, 2.5, 2}},
		{"length", []float64{1, 2, 3}, []float64{1, 2}},
	}
	for _, tt := range bad {
		if p, err := FitPowerLaw(tt.n, tt.ys); err == nil {
			t.Errorf("%s: no error, got %v", tt.name, p)
		}
	}
	if inv := (PowerLaw{A: 1, B: 1, C: 2}).Inverse(1.5); !math.IsInf(inv, 1) {
		t.Errorf("Inverse below asymptote = %v, want +Inf", inv)
	}
}

func TestSILabel(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{999_856, "1M"},
		{103_096, "103k"},
		{1_500_000, "1.5M"},
		{999, "999"},
		{2.5e12, "2.5T"},
	}
	for _, tt := range tests {
		if got := siLabel(tt.v); got != tt.want {
			t.Errorf("siLabel(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

// TestFitPowerLawLeastSquaresInLossUnits: the fitted (a, b, c) is a local
// minimum of the sum of squared residuals in loss units (no perturbation of
// a parameter lowers it), and the fit reports its points, dof and RMSE.
func TestFitPowerLawLeastSquaresInLossUnits(t *testing.T) {
	n := []float64{5e4, 1e5, 2e5, 4e5, 8e5}
	y := []float64{2.31, 2.12, 1.80, 1.63, 1.55}
	p, err := FitPowerLaw(n, y)
	if err != nil {
		t.Fatal(err)
	}
	sse := func(a, b, c float64) float64 {
		s := 0.0
		for i := range n {
			r := a*math.Pow(n[i], -b) + c - y[i]
			s += r * r
		}
		return s
	}
	if p.Points != 5 || p.DOF != 2 || math.Abs(p.SSE-sse(p.A, p.B, p.C)) > 1e-12 || math.Abs(p.RMSE-math.Sqrt(p.SSE/5)) > 1e-15 {
		t.Fatalf("fit %+v", p)
	}
	for _, d := range []float64{1e-3, -1e-3, 1e-2, -1e-2} {
		for i, q := range [][3]float64{{p.A * (1 + d), p.B, p.C}, {p.A, p.B * (1 + d), p.C}, {p.A, p.B, p.C + d}} {
			if q[2] < 0 {
				continue // c >= 0 is a constraint
			}
			if s := sse(q[0], q[1], q[2]); s < p.SSE*(1-1e-9) {
				t.Errorf("perturbing parameter %d by %v lowers the SSE: %v < %v", i, d, s, p.SSE)
			}
		}
	}
	// Three sizes: no residual dof, not usable; on data from a law it
	// interpolates them (RMSE ~ 0) whatever the law.
	y3 := []float64{40*math.Pow(n[0], -0.3) + 1.5, 40*math.Pow(n[1], -0.3) + 1.5, 40*math.Pow(n[2], -0.3) + 1.5}
	p3, err := FitPowerLaw(n[:3], y3)
	if err != nil {
		t.Fatal(err)
	}
	if p3.DOF != 0 || p3.Usable() || p3.RMSE > 1e-6 {
		t.Errorf("3-size fit %+v: want dof 0, not usable, RMSE ~ 0", p3)
	}
}

// TestBootstrapDeterministic: the same salt gives the same resamples; the
// percentile interval interpolates order statistics.
func TestBootstrapDeterministic(t *testing.T) {
	xs := []float64{1, 2, 3, 4}
	draw := func(salt string) []float64 {
		rng := newBootstrapRNG(salt)
		out := make([]float64, 50)
		for i := range out {
			out[i] = resampleMean(rng, xs)
		}
		return out
	}
	a, b, c := draw("x"), draw("x"), draw("y")
	same := true
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("resample %d differs: %v, %v", i, a[i], b[i])
		}
		same = same && a[i] == c[i]
	}
	if same {
		t.Error("different salts gave the same stream")
	}
	reps := []float64{5, 1, 3, 2, 4}
	if lo, hi := percentileInterval(reps, 0.5); lo != 2 || hi != 4 {
		t.Errorf("50%% interval of 1..5 = [%v, %v], want [2, 4]", lo, hi)
	}
	if lo, hi := percentileInterval([]float64{3, math.Inf(1), 1, 2}, 0.5); lo != 1.75 || !math.IsInf(hi, 1) {
		t.Errorf("interval with +Inf = [%v, %v]", lo, hi)
	}
}
