// Gatehouse: the central sign-in and access service, one binary on PocketBase.
//
//	go run . serve                      # SQLite in ./pb_data, dashboard at /_/
//	go run . superuser upsert EMAIL PASS
//	go run . seed
package main

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/cmd"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/plugins/migratecmd"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/spf13/cobra"

	_ "gatehouse/pb_migrations"
	"gatehouse/plugins/admincli"
	"gatehouse/plugins/config"
	"gatehouse/plugins/datadir"
	"gatehouse/plugins/importer"
	"gatehouse/server"
)

//go:embed all:pb_public
var publicFS embed.FS

func main() {
	// Everything the process creates (databases, WAL files, backups, uploads, the secret) is
	// private to its user (issue 18); plugins/datadir tightens what exists already.
	datadir.RestrictUmask()

	cfg, err := config.FromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}

	// Dev mode only with an explicit --dev: PocketBase would otherwise switch it on for any
	// binary under the temp dir, `go run` included.
	//
	// The read pool keeps its connections (PocketBase keeps 15 idle of 120): under load, closing
	// and reopening connections also throws away their prepared statements (plugins/prepared).
	// 32 readers are plenty for 2 cores; callers beyond that queue in database/sql.
	app := pocketbase.NewWithConfig(pocketbase.Config{DefaultDev: false, DataMaxOpenConns: 32, DataMaxIdleConns: 32})

	tuneRuntime(app)

	public, err := fs.Sub(publicFS, "pb_public")
	if err != nil {
		panic(err)
	}
	services := server.Register(app, cfg, server.Options{Public: public})

	migratecmd.MustRegister(app, app.RootCmd, migratecmd.Config{Dir: "pb_migrations"})
	admincli.Register(app, app.RootCmd, admincli.Deps{Tokens: services.Tokens})
	importer.Register(app, importer.Deps{Root: app.RootCmd})
	app.RootCmd.AddCommand(cmd.NewSuperuserCommand(app), cmd.NewServeCommand(app, true))

	os.Exit(run(app))
}

// run executes the command line and returns the process exit code. PocketBase v0.39 ignores
// command errors (a failed serve, e.g. a taken port, would exit 0); every RunE is wrapped to
// record its error, and unknown commands are refused before PocketBase bootstraps.
func run(app *pocketbase.PocketBase) int {
	app.RootCmd.InitDefaultHelpCmd()
	app.RootCmd.InitDefaultCompletionCmd()
	if _, _, err := app.RootCmd.Find(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		return 1
	}
	var cmdErr error
	record := func(err error) error {
		if err != nil && cmdErr == nil {
			cmdErr = err
		}
		return err
	}
	wrapRunE(app.RootCmd, record)
	app.RootCmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return record(err) })

	if err := app.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		return 1
	}
	if cmdErr != nil {
		return 1
	}
	return 0
}

func wrapRunE(c *cobra.Command, record func(error) error) {
	if runE := c.RunE; runE != nil {
		c.RunE = func(cc *cobra.Command, args []string) error { return record(runE(cc, args)) }
	}
	for _, sub := range c.Commands() {
		wrapRunE(sub, record)
	}
}

// tuneRuntime sets the Go runtime for start-up, then for serving; an explicit GOGC or GOMAXPROCS
// wins over each.
//
// Start-up on an empty data dir (~30 collection saves, each re-reading every collection) is
// allocation-heavy with a live heap of ~2 MB: at GOGC=100 the collector runs about 13 times
// before the first request. A relaxed collector until the server listens cuts the cold start
// (issue 6).
//
// Once it listens, the scheduler gets twice as many Ps as processors. Gatehouse answers many
// short requests; when the OS preempts one of its threads to run another process on the same
// cores (a proxy, a database, a load generator), the goroutines queued on that thread's P wait
// for the thread's next time slice, a few ms. With spare Ps another thread takes them over.
// Measured on 2 cores with wrk on the same cores (issue 6): validate's p90 3.5-4.6 ms instead of
// 8.7-10 ms, p99 8-12 ms instead of 20 ms. Not before listening: the extra Ps cost ~18 ms of cold
// start (more GC workers). CPU shares and busy signals keep using the real processor count
// (config.Processors).
func tuneRuntime(app core.App) {
	relaxGC := os.Getenv("GOGC") == ""
	moreProcs := os.Getenv("GOMAXPROCS") == "" && os.Getenv("GATEHOUSE_AB_MAXPROCS") != "off" // A/B: issue 17
	heapFloor := os.Getenv("GATEHOUSE_AB_HEAPFLOOR") != "off"                                 // A/B: issue 17
	if relaxGC {
		debug.SetGCPercent(400)
	}
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id:       "gatehouseRuntimeTuning",
		Priority: -1000, // first: the code after se.Next() runs once everything is bound
		Func: func(se *core.ServeEvent) error {
			err := se.Next()
			go func() {
				if relaxGC {
					// back to the default, and the start-up garbage returned to the OS: the
					// relaxed collector let the heap grow ~4× (idle RSS ~40 MB instead of ~30)
					debug.SetGCPercent(100)
					debug.FreeOSMemory()
					if heapFloor {
						config.KeepHeapFloor(config.HeapFloor, 100, 200*time.Millisecond)
					}
				}
				if moreProcs {
					runtime.GOMAXPROCS(2 * config.Processors())
				}
			}()
			return err
		},
	})
}
