package sqlite_test

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"customs"
	"customs/iam"
	"customs/store/sqlite"
	"customs/store/storetest"
)

func open(t *testing.T, name string, now func() time.Time) storetest.Store {
	t.Helper()
	db := newDB(t, filepath.Join(dir(t), name+".db"))
	db.Now = now
	if err := db.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// dir is one directory per test, so that opening a name twice in a test
// gives two handles on one database.
var (
	dirsMu sync.Mutex
	dirs   = map[string]string{}
)

func dir(t *testing.T) string {
	dirsMu.Lock()
	defer dirsMu.Unlock()
	d, ok := dirs[t.Name()]
	if !ok {
		d = t.TempDir()
		dirs[t.Name()] = d
		t.Cleanup(func() {
			dirsMu.Lock()
			defer dirsMu.Unlock()
			delete(dirs, t.Name())
		})
	}
	return d
}

func newDB(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	c, err := iam.NewCipher(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	db := sqlite.New(path)
	db.Cipher = c
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, open)
}

// Registry passwords and secret keys never reach the database file in clear.
func TestPasswordsEncryptedAtRest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "customs.db")
	db := newDB(t, path)
	if err := db.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	p := &customs.Project{Name: "local-1", Enabled: true}
	if _, err := db.Bootstrap(t.Context(), &customs.Domain{Name: "admin"}, &customs.User{Name: "admin"}, p); err != nil {
		t.Fatal(err)
	}
	const password = "hunter2-very-secret-password"
	if err := db.CreateRegistry(t.Context(), customs.ProjectScope(p.ID), &customs.Registry{Name: "r", Type: customs.Harbor, Protocol: "https", Addr: "h", Password: password}); err != nil {
		t.Fatal(err)
	}
	const secretKey = "SECRETKEY0123456789abcdefghijklmnopqrstu"
	users, _ := db.FindUsers(t.Context(), p.DomainID)
	if err := db.CreateCredential(t.Context(), &customs.Credential{AccessKey: "AKTEST00000000000001", UserID: users[0].ID, DomainID: p.DomainID}, secretKey); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(password)) {
			t.Errorf("%s holds the registry password in clear", filepath.Base(f))
		}
		if bytes.Contains(b, []byte(secretKey)) {
			t.Errorf("%s holds the secret key in clear", filepath.Base(f))
		}
	}
	// With another key the password cannot be read, and the store says why.
	other := sqlite.New(path)
	other.Cipher, _ = iam.NewCipher(bytes.Repeat([]byte{2}, 32))
	if err := other.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.FindRegistries(t.Context(), customs.ProjectScope(p.ID), customs.RegistryFilter{}); err == nil {
		t.Error("registries were read with the wrong key")
	}
}
