package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"time"

	"github.com/tinyscale/tinyscale/serve"
	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/sweeps"
)

// serveCmd runs the local dashboard (package serve) on a results database.
type serveCmd struct{ e env }

func newServeCmd(e env) command { return serveCmd{e: e} }

// Name implements command.
func (serveCmd) Name() string { return "serve" }

// Summary implements command.
func (serveCmd) Summary() string {
	return "a local dashboard: runs, live loss curves, the report, samples"
}

// Run implements command.
func (c serveCmd) Run(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("serve", flag.ContinueOnError)
	flags.SetOutput(c.e.stderr)
	dbFlag := flags.String("db", "", "results database `PATH` (default: the db key of -f, else "+defaultDBFile+")")
	file := flags.String("f", defaultExperimentsFile, "experiments `FILE`, read for its db key and the experiments' order")
	addr := flags.String("addr", serve.DefaultAddr, "listen `ADDRESS` host:port (loopback by default; port 0 picks a free one)")
	poll := flags.Int("poll-ms", 1000, "how often the page asks for new steps, in `MILLISECONDS`")
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "usage: tinyscale serve [--db PATH] [--addr 127.0.0.1:8080]\n\n"+
			"%s. It only reads the database\n(never slows or blocks training) and fetches nothing from the network.\n\nflags:\n", c.Summary())
		flags.PrintDefaults()
	}
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if *poll < 100 || *poll > 600000 {
		return usagef("--poll-ms %d: must be between 100 and 600000", *poll)
	}
	if _, port, err := net.SplitHostPort(*addr); err != nil {
		return usagef("--addr %q: want host:port, e.g. 127.0.0.1:8080 (port 0 picks a free one)", *addr)
	} else if _, err := net.LookupPort("tcp", port); err != nil {
		return usagef("--addr %q: port %q is not a port number from 0 to 65535", *addr, port)
	}
	path, err := resolveDBPath(*dbFlag, *file)
	if err != nil {
		return err
	}
	var order []string
	h, err := sweeps.ReadHeader(*file)
	if err != nil {
		fileSet := false
		flags.Visit(func(f *flag.Flag) { fileSet = fileSet || f.Name == "f" })
		if fileSet || !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	} else {
		order = h.Experiments
	} // no experiments file: experiments by name
	db, err := openForViewing(ctx, path, c.e.log)
	if errors.Is(err, store.ErrNoDatabase) {
		return fmt.Errorf("no results database at %s (start `tinyscale run` first, or pass --db)", path)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	// A few connections are plenty for one dashboard and bound its load.
	db.SQL().SetMaxOpenConns(4)
	srv := serve.New(db, serve.Options{Logger: c.e.log, Experiments: order, PollMS: *poll})
	err = srv.ListenAndServe(ctx, *addr, func(a string) {
		// Warned once listening: an address that cannot be bound serves nothing.
		if !serve.IsLoopback(*addr) {
			c.e.log.Warn("SERVING BEYOND THIS MACHINE: the dashboard has no authentication; anyone who can reach "+
				*addr+" can read every run, config and sample in "+path, "addr", *addr)
		}
		fmt.Fprintf(c.e.stdout, "serving %s on http://%s/ (Ctrl-C to stop)\n", path, a)
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(c.e.stdout, "stopped")
	return nil
}

// migrationGrace is how long a viewer waits for a database whose schema is
// older than this binary's: long enough for a `tinyscale run` that is
// creating or migrating the file this moment (milliseconds), short enough
// that a truly old database is reported at once to a person.
const migrationGrace = 5 * time.Second

// openForViewing opens path read-only for a long-running viewer. A database
// that a writer is creating or migrating right now reads as an older schema
// for a moment; the viewer waits up to migrationGrace for it (saying so)
// instead of failing, then reports the older schema.
func openForViewing(ctx context.Context, path string, log *slog.Logger) (*store.DB, error) {
	deadline := time.Now().Add(migrationGrace)
	said := false
	for {
		db, err := store.OpenReadOnly(path, store.WithLogger(log))
		if !errors.Is(err, store.ErrSchemaTooOld) || time.Now().After(deadline) {
			return db, err
		}
		if !said {
			log.Info("waiting for the database's schema to be migrated by a writer", "db", path, "reason", err)
			said = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
