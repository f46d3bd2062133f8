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

	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/cmd"
	"github.com/pocketbase/pocketbase/plugins/migratecmd"
	"github.com/spf13/cobra"

	_ "gatehouse/pb_migrations"
	"gatehouse/plugins/admincli"
	"gatehouse/plugins/config"
	"gatehouse/plugins/datadir"
	"gatehouse/plugins/importer"
	"gatehouse/plugins/passwords"
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
	app := pocketbase.NewWithConfig(pocketbase.Config{DefaultDev: false, DataMaxOpenConns: 32, DataMaxIdleConns: 32, DBConnect: datadir.Connect})

	tuneRuntime(app)

	public, err := fs.Sub(publicFS, "pb_public")
	if err != nil {
		panic(err)
	}
	services := server.Register(app, cfg, server.Options{Public: public})

	migratecmd.MustRegister(app, app.RootCmd, migratecmd.Config{Dir: "pb_migrations"})
	admincli.Register(app, app.RootCmd, admincli.Deps{Tokens: services.Tokens, Policy: passwords.NewPolicy(cfg)})
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
	found, rest, err := app.RootCmd.Find(os.Args[1:])
	if err == nil && !found.Runnable() {
		// cobra refuses unknown subcommands only at the root: `keys rotat` would print the
		// help of keys and exit 0
		found.InitDefaultHelpFlag()
		if found.ParseFlags(rest) == nil && found.Flags().NArg() > 0 {
			err = fmt.Errorf("unknown command %q for %q", found.Flags().Arg(0), found.CommandPath())
		}
	}
	if err != nil {
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
	// cobra checks the arguments before RunE, and PocketBase ignores that error too
	if args := c.Args; args != nil {
		c.Args = func(cc *cobra.Command, a []string) error { return record(args(cc, a)) }
	}
	for _, sub := range c.Commands() {
		wrapRunE(sub, record)
	}
}
