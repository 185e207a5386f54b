package customs_test

import (
	"go/build"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The domain package imports only the standard library, and adapters never
// import each other: only cmd/ names concrete types (design §3).
func TestImports(t *testing.T) {
	pkgs := map[string]*build.Package{}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata") {
			return filepath.SkipDir
		}
		p, err := build.ImportDir(path, 0)
		if err != nil {
			if _, ok := err.(*build.NoGoError); ok {
				return nil
			}
			return err
		}
		pkgs[filepath.ToSlash(path)] = p
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) == 0 {
		t.Fatal("no packages found")
	}
	for dir, p := range pkgs {
		for _, imp := range p.Imports {
			switch {
			case dir == ".":
				if strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") || strings.HasPrefix(imp, "customs") {
					t.Errorf("domain package imports %q; it may import only the standard library", imp)
				}
			case strings.HasPrefix(dir, "cmd/"):
				// cmd/ wires everything.
			case strings.HasPrefix(imp, "customs/"):
				if !allowedInternal(dir, strings.TrimPrefix(imp, "customs/")) {
					t.Errorf("package customs/%s imports %q: adapters never import each other (only cmd/ wires them)", dir, imp)
				}
			}
		}
	}
}

// allowedInternal reports whether package dir may import project package imp
// besides the domain: shared libraries that are not adapters (the list index,
// the analyzer contract that the scanner calls and analyzers implement), and
// its own sub-packages. Test files are not checked: tests may use real
// adapters.
func allowedInternal(dir, imp string) bool {
	shared := []string{"store/listindex", "analyzer"}
	return slices.Contains(shared, imp) || strings.HasPrefix(imp, dir+"/")
}
