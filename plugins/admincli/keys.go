package admincli

import (
	"errors"
	"fmt"

	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"gatehouse/plugins/tokens"
)

// keysCommand is `keys rotate` (§2.20): an immediate signing-key rotation. A running server
// picks the new key up within a minute (its keyring reloads every minute and on unknown kids).
func keysCommand(app core.App, svc *tokens.Service) *cobra.Command {
	keys := &cobra.Command{Use: "keys", Short: "Manage the JWT signing keys"}
	keys.AddCommand(&cobra.Command{
		Use:          "rotate",
		Short:        "Make a new signing key active now; the previous one keeps verifying until its tokens expire",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := app.RunAllMigrations(); err != nil {
				return err
			}
			if svc == nil {
				return errors.New("the token service is not registered")
			}
			kid, err := svc.Rotate()
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "Signing key rotated: %s is now active.\n", kid)
			return nil
		},
	})
	return keys
}
