package report_test

import (
	"context"
	"fmt"
	"log"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/tinyscale/tinyscale/report"
	"github.com/tinyscale/tinyscale/store"
)

// Example_gradNorm draws a figure the report does not: the gradient norm of
// one run against the step, on a log axis. (docs/report.md shows it.)
func Example_gradNorm() {
	ctx := context.Background()
	db, err := store.OpenReadOnly("results.db") // safe while training runs
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	steps, err := db.Steps(ctx, "paper-pair/silia/seed=1")
	if err != nil {
		log.Fatal(err)
	}
	pts := make(plotter.XYs, 0, len(steps))
	for _, s := range steps {
		if s.GradNorm > 0 && !math.IsInf(s.GradNorm, 0) { // NaN (unknown) fails > 0
			pts = append(pts, plotter.XY{X: float64(s.Step), Y: s.GradNorm})
		}
	}
	p := plot.New()
	p.Title.Text = "Gradient norm: paper-pair/silia/seed=1"
	p.X.Label.Text = "training step"
	p.Y.Label.Text = "gradient norm before clipping"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	line, err := plotter.NewLine(pts)
	if err != nil {
		log.Fatal(err)
	}
	p.Add(line, plotter.NewGrid())
	if err := p.Save(16*vg.Centimeter, 10*vg.Centimeter, "grad_norm.png"); err != nil {
		log.Fatal(err)
	}
}

// ExampleLoad reads the whole database into a report.Dataset and prints each
// finished run's learning rate (from its stored configuration) and final
// validation loss.
func ExampleLoad() {
	db, err := store.OpenReadOnly("results.db")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ds, err := report.Load(context.Background(), db)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range ds.Runs {
		for _, e := range r.Evals {
			if e.Split == report.SplitFinalVal {
				fmt.Printf("%s %s lr=%g seed=%d final val loss %.4f\n", r.Name, r.Shape(), r.LR, r.Seed, e.Loss)
			}
		}
	}
}
