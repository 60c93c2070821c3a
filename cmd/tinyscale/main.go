// Command tinyscale plans, trains, inspects and reports matched experiments on
// tiny language models. Each subcommand is a small struct with a Run method;
// see `tinyscale help`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand of the binary.
type command interface {
	// Name is the word that selects the command.
	Name() string
	// Summary is the one-line description shown by `tinyscale help`.
	Summary() string
	// Run executes the command with its own arguments (without the name).
	Run(ctx context.Context, args []string) error
}

// env is what every command gets from main: its streams and logger.
type env struct {
	stdout, stderr io.Writer
	log            *slog.Logger
}

// usageError marks a bad command line; main exits with status 2 for it.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// parseFlags parses fs and converts flag errors into usage errors; -h/--help
// print the command's usage and return flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

func commands(e env) []command {
	cmds := []command{
		newPlanCmd(e),
		newStatusCmd(e),
	}
	cmds = append(cmds, extraCommands(e)...)
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name() < cmds[j].Name() })
	return cmds
}

func main() {
	ctx, stop := signalContext()
	code := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// signalContext is cancelled by the first Ctrl-C (SIGINT) or SIGTERM: every
// command stops at its next check (a training run checkpoints first). The
// default handlers are then restored, so a second signal ends the process
// at once and no command can swallow signals.
func signalContext() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}

// runMain dispatches to a subcommand and maps errors to exit codes:
// 0 success, 1 failure, 2 usage error.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := env{stdout: stdout, stderr: stderr, log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	cmds := commands(e)
	help := func(w io.Writer) {
		fmt.Fprintln(w, "usage: tinyscale <command> [flags]\n\ncommands:")
		width := 0
		for _, c := range cmds {
			width = max(width, len(c.Name()))
		}
		for _, c := range cmds {
			fmt.Fprintf(w, "  %-*s  %s\n", width, c.Name(), c.Summary())
		}
		fmt.Fprintln(w, "\nRun 'tinyscale <command> --help' for a command's flags.")
	}
	if len(args) == 0 {
		help(stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		help(stdout)
		return 0
	}
	for _, c := range cmds {
		if c.Name() != args[0] {
			continue
		}
		err := c.Run(ctx, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, new(usageError)):
			fmt.Fprintf(stderr, "tinyscale %s: %v\n", c.Name(), err)
			return 2
		default:
			fmt.Fprintf(stderr, "tinyscale %s: %v\n", c.Name(), err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "tinyscale: unknown command %q\n\n", args[0])
	help(stderr)
	return 2
}
