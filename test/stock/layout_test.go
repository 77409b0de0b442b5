package stock

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// TestSameFilesAsStockForTheSamePushes is the layout claim at its
// strictest: after the same pushes, our storage root holds exactly the
// files and directories the stock registry's holds, with the same bytes (no
// upload left behind, no file of our own). TestOneDataDirectoryEitherProgram
// shows that each reads the other's; this shows that neither would find
// something unexpected there, a leftover that a stock garbage collector or
// a backup script would trip over.
func TestSameFilesAsStockForTheSamePushes(t *testing.T) {
	arts := content(t)
	ourRoot := pushedRoot(t, ours(), arts)
	want := tree(t, ourRoot)
	for _, r := range testkit.StockRegistries {
		t.Run(r.Version, func(t *testing.T) {
			got := tree(t, pushedRoot(t, stockProgram(t, r), arts))
			var onlyOurs, onlyStock, differ []string
			for path, data := range want {
				stock, ok := got[path]
				switch {
				case !ok:
					onlyOurs = append(onlyOurs, path)
				case !bytes.Equal(stock, data):
					differ = append(differ, path)
				}
			}
			for path := range got {
				if _, ok := want[path]; !ok {
					onlyStock = append(onlyStock, path)
				}
			}
			slices.Sort(onlyOurs)
			slices.Sort(onlyStock)
			slices.Sort(differ)
			if len(onlyOurs)+len(onlyStock)+len(differ) > 0 {
				t.Errorf("storage roots differ after the same pushes:\nonly ours: %q\nonly %s: %q\ndifferent bytes: %q",
					onlyOurs, r.Version, onlyStock, differ)
			}
			t.Logf("%d paths compared", len(want))
		})
	}
}

// pushedRoot pushes arts to p over a fresh root, stops p and returns the
// root.
func pushedRoot(t *testing.T, p program, arts []artifact) string {
	t.Helper()
	root := t.TempDir()
	t.Run("push to "+p.name, func(t *testing.T) {
		reg := startRegistry(t, p, root, "")
		push(t, reg.Host(), newClient(t, anonymous), arts)
	})
	if t.Failed() {
		t.FailNow()
	}
	return root
}

// tree maps each path under root (directories with a trailing slash) to
// the file's bytes (nil for a directory).
func tree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == root {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			files[rel+"/"] = nil
			return nil
		}
		data, err := os.ReadFile(path)
		files[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
