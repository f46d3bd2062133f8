package admincli

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"gatehouse/plugins/tokens"
)

// APIKeyScopes are the scopes of §1.5.
var APIKeyScopes = []string{"users:read", "round_robin:read", "round_robin:write"}

const (
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	base62     = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

func randomString(alphabet string, n int) (string, error) {
	var sb strings.Builder
	max := big.NewInt(int64(len(alphabet)))
	for range n {
		i, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		sb.WriteByte(alphabet[i.Int64()])
	}
	return sb.String(), nil
}

// NewAPIKey returns a key of the format of §1.5 (ak_ + 8 lowercase alphanumerics + _ + 32
// base62 characters) and its public prefix, from a CSPRNG.
func NewAPIKey() (key, prefix string, err error) {
	if prefix, err = randomString(lowerAlnum, 8); err != nil {
		return "", "", err
	}
	secret, err := randomString(base62, 32)
	if err != nil {
		return "", "", err
	}
	return "ak_" + prefix + "_" + secret, prefix, nil
}

// CreateAPIKey stores a new service API key (§2.14: only its SHA-256 hash) and returns the key,
// which is never shown again. scopes must be known; system, when not empty, is a slug; a zero
// expires means no expiry, otherwise it must lie in the future.
func CreateAPIKey(app core.App, name string, scopes []string, system string, expires time.Time) (string, *core.Record, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", nil, errors.New("--name is required")
	case utf8.RuneCountInString(name) > 100:
		return "", nil, errors.New("--name must have at most 100 characters")
	case len(scopes) == 0:
		return "", nil, errors.New("--scopes needs at least one of " + strings.Join(APIKeyScopes, ", "))
	case !expires.IsZero() && !expires.After(time.Now()):
		return "", nil, errors.New("--expires must be in the future")
	}
	var clean []string
	for _, s := range scopes {
		s = strings.TrimSpace(s)
		if !slices.Contains(APIKeyScopes, s) {
			return "", nil, fmt.Errorf("unknown scope %q (known: %s)", s, strings.Join(APIKeyScopes, ", "))
		}
		if !slices.Contains(clean, s) {
			clean = append(clean, s)
		}
	}
	col, err := app.FindCollectionByNameOrId("api_keys")
	if err != nil {
		return "", nil, err
	}
	rec := core.NewRecord(col)
	if system != "" {
		sys, err := app.FindFirstRecordByData("systems", "slug", system)
		if err != nil {
			return "", nil, fmt.Errorf("unknown system %q", system)
		}
		rec.Set("system", sys.Id)
	}
	for range 5 { // a prefix collision (36^8) is retried
		key, prefix, err := NewAPIKey()
		if err != nil {
			return "", nil, err
		}
		if existing, _ := app.FindFirstRecordByData("api_keys", "key_prefix", prefix); existing != nil {
			continue
		}
		rec.Set("name", name)
		rec.Set("key_prefix", prefix)
		rec.Set("key_hash", tokens.HashAPIKey(key))
		rec.Set("scopes", clean)
		rec.Set("is_active", true)
		if !expires.IsZero() {
			rec.Set("expires_at", expires.UTC())
		}
		if err := app.Save(rec); err != nil {
			return "", nil, err
		}
		return key, rec, nil
	}
	return "", nil, errors.New("could not allocate a key prefix")
}

// apikeyCommand is `apikey create --name <n> --scopes <s1,s2> [--system <slug>] [--expires
// <RFC3339>]` (§2.20): prints the key once.
func apikeyCommand(app core.App) *cobra.Command {
	root := &cobra.Command{Use: "apikey", Short: "Manage service API keys"}
	var name, scopes, system, expires string
	create := &cobra.Command{
		Use:          "create",
		Short:        "Create a service API key (shown once; only its hash is stored)",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := app.RunAllMigrations(); err != nil {
				return err
			}
			var exp time.Time
			if expires != "" {
				t, err := time.Parse(time.RFC3339, expires)
				if err != nil {
					return fmt.Errorf("--expires must be an RFC 3339 time (e.g. 2027-01-31T00:00:00Z): %w", err)
				}
				exp = t
			}
			var list []string
			for _, s := range strings.Split(scopes, ",") {
				if s = strings.TrimSpace(s); s != "" {
					list = append(list, s)
				}
			}
			key, rec, err := CreateAPIKey(app, name, list, system, exp)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.ErrOrStderr(), "Created API key %q (id %s). Store it now: it is not shown again.\n", rec.GetString("name"), rec.Id)
			fmt.Fprintln(c.OutOrStdout(), key)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "a name for the key (≤ 100 characters)")
	create.Flags().StringVar(&scopes, "scopes", "", "comma-separated scopes: "+strings.Join(APIKeyScopes, ", "))
	create.Flags().StringVar(&system, "system", "", "restrict the key to one system (slug)")
	create.Flags().StringVar(&expires, "expires", "", "expiry time, RFC 3339 (default: never)")
	root.AddCommand(create)
	return root
}
