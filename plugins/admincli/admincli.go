// Package admincli adds the operator commands of spec/API.md §2.20 to PocketBase's root command:
// `seed`, `users create-admin`, `apikey create` and `keys rotate`.
package admincli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"gatehouse/pb_migrations"
	"gatehouse/plugins/passwords"
	"gatehouse/plugins/realm"
	"gatehouse/plugins/tokens"
)

// Register adds the commands. Commands run after PocketBase's bootstrap but before app
// migrations, so each one applies them first.
func Register(app core.App, root *cobra.Command, deps Deps) {
	policy := deps.Policy
	if policy == nil {
		policy = passwords.NewPolicy(nil)
	}
	root.AddCommand(seedCommand(app), usersCommand(app, policy), keysCommand(app, deps.Tokens), apikeyCommand(app))
}

// Deps are the services the commands use.
type Deps struct {
	Tokens *tokens.Service   // signing keys (keys rotate)
	Policy *passwords.Policy // §1.13 for the admin password (the configured one; defaults when nil)
}

func seedCommand(app core.App) *cobra.Command {
	return &cobra.Command{
		Use:          "seed",
		Short:        "Ensure the default systems and roles of §2.20 exist (idempotent; creates no accounts)",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := app.RunAllMigrations(); err != nil {
				return err
			}
			created, err := pb_migrations.EnsureDefaultSystems(app)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "Seed complete: %d record(s) created.\n", created)
			return nil
		},
	}
}

func usersCommand(app core.App, policy *passwords.Policy) *cobra.Command {
	users := &cobra.Command{Use: "users", Short: "Manage staff users"}
	var email, password string
	createAdmin := &cobra.Command{
		Use:          "create-admin",
		Short:        "Create a staff superuser, or promote an existing staff user (prompts for the password when --password is absent)",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := app.RunAllMigrations(); err != nil {
				return err
			}
			email = strings.ToLower(strings.TrimSpace(email))
			if email == "" || !strings.Contains(email, "@") {
				return errors.New("--email must be a valid email address")
			}
			existing, _ := app.FindAuthRecordByEmail("users", email)
			if existing == nil && !c.Flags().Changed("password") {
				p, err := promptPassword(c)
				if err != nil {
					return err
				}
				password = p
			}
			return createOrPromote(app, policy, email, password, existing, c)
		},
	}
	createAdmin.Flags().StringVar(&email, "email", "", "the admin's email address")
	createAdmin.Flags().StringVar(&password, "password", "", "the password (the policy of §1.13: 8 characters to 71 bytes, not common, not the email's name); prompted when absent")
	users.AddCommand(createAdmin)
	return users
}

func createOrPromote(app core.App, policy *passwords.Policy, email, password string, existing *core.Record, c *cobra.Command) error {
	if existing != nil {
		existing.Set("is_superuser", true)
		existing.Set("is_active", true)
		if password != "" {
			if err := checkPassword(c.Context(), policy, password, existing.GetString("username"), email); err != nil {
				return err
			}
			existing.SetPassword(password)
		}
		// a new password is a reset: every session of the account ends with it (§3.5), so an
		// operator recovering a leaked admin password also ends the holder's sessions
		err := app.RunInTransaction(func(tx core.App) error {
			if err := tx.Save(existing); err != nil {
				return err
			}
			if password == "" {
				return nil
			}
			_, err := tokens.RevokeSessions(tx, realm.TypeStaff, existing.Id, tokens.ReasonPasswordReset, "")
			return err
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(c.OutOrStdout(), "Promoted %s to superuser.\n", email)
		return nil
	}
	// the username is derived from the email on save (hooks): rule 5 covers it
	if err := checkPassword(c.Context(), policy, password, "", email); err != nil {
		return err
	}
	col, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		return err
	}
	r := core.NewRecord(col)
	r.SetEmail(email)
	r.SetPassword(password)
	r.Set("is_superuser", true)
	r.Set("is_active", true)
	r.Set("is_staff", true)
	r.Set("status", "Approved")
	if err := app.Save(r); err != nil {
		return err
	}
	fmt.Fprintf(c.OutOrStdout(), "Created superuser %s (id %s).\n", email, r.Id)
	return nil
}

// checkPassword applies the policy of §1.13, which "applies everywhere a password is set",
// admin user creation included: the lengths, the username and the email's local part, the list
// of common passwords and (when HIBP_ENABLED) Have I Been Pwned.
func checkPassword(ctx context.Context, policy *passwords.Policy, password, username, email string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if msgs := policy.Check(ctx, password, username, email); len(msgs) > 0 {
		return errors.New("password refused: " + strings.Join(msgs, " "))
	}
	return nil
}

func promptPassword(c *cobra.Command) (string, error) {
	fmt.Fprint(c.ErrOrStderr(), "Password: ")
	if term.IsTerminal(int(os.Stdin.Fd())) {
		b, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(c.ErrOrStderr())
		return string(b), err
	}
	line, err := bufio.NewReader(c.InOrStdin()).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("no password given")
	}
	return strings.TrimRight(line, "\r\n"), nil
}
