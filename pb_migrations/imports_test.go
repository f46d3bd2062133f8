package pb_migrations

import (
	"go/build"
	"path/filepath"
	"strings"
	"testing"
)

// A migration is a snapshot: it must not change when a plugin does, so the package imports no
// package under gatehouse/plugins, directly or through another gatehouse package.
func TestMigrationsImportNoPlugin(t *testing.T) {
	const module = "gatehouse"
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var visit func(path, dir string, via []string)
	visit = func(path, dir string, via []string) {
		if seen[path] {
			return
		}
		seen[path] = true
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, imp := range pkg.Imports {
			if imp != module && !strings.HasPrefix(imp, module+"/") {
				continue
			}
			chain := append(append([]string(nil), via...), imp)
			if strings.HasPrefix(imp, module+"/plugins/") || imp == module+"/plugins" {
				t.Errorf("pb_migrations imports %s (via %s)", imp, strings.Join(chain, " → "))
				continue
			}
			visit(imp, filepath.Join(root, strings.TrimPrefix(imp, module)), chain)
		}
	}
	visit(module+"/pb_migrations", ".", []string{module + "/pb_migrations"})
	if len(seen) == 0 {
		t.Fatal("nothing inspected")
	}
}
