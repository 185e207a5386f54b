// Package testdata finds the public test data that tests read in place and
// never copy into the repository: the OSV databases in the OSV bucket's
// layout (<Ecosystem>/all.zip).
//
// The data lives in the directory CUSTOMS_TEST_DATA names or, without it,
// in a "shared/data" directory beside the repository's checkout. A test that
// needs it skips, saying so, when it is absent and CUSTOMS_TEST_DATA is not
// set; with CUSTOMS_TEST_DATA set, absent data fails the test.
package testdata

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the test data directory.
func Dir(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv("CUSTOMS_TEST_DATA"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "osv")); err != nil {
			t.Fatalf("CUSTOMS_TEST_DATA=%s: %v", dir, err)
		}
		return dir
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		dir := filepath.Join(d, "shared", "data")
		if _, err := os.Stat(filepath.Join(dir, "osv")); err == nil {
			return dir
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	t.Skipf("shared test data not found beside the checkout of %s; set CUSTOMS_TEST_DATA to the directory holding osv/", wd)
	return ""
}

// OSV returns the path of an ecosystem's all.zip ("Debian", "Go", "AlmaLinux").
func OSV(t testing.TB, ecosystem string) string {
	t.Helper()
	return filepath.Join(Dir(t), "osv", ecosystem, "all.zip")
}
