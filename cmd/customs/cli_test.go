package main

import (
	"strings"
	"testing"

	"customs/internal/testregistry"
)

// run runs the command line on dir as a user would, with stdin as input.
func run(t *testing.T, dir, stdin string, args ...string) (string, error) {
	t.Helper()
	m, out := newMain(t, dir)
	m.Stdin = strings.NewReader(stdin)
	err := m.Run(t.Context(), append(args, "--data", dir))
	return out.String(), err
}

// TestCommandLine manages registries and synchronizes from the command line,
// the password read from standard input, against the real Distribution
// registry.
func TestCommandLine(t *testing.T) {
	reg := testregistry.Start(t, testregistry.WithHtpasswd("robot", "robot-secret"))
	pushTo(t, reg)
	dir := t.TempDir()

	out, err := run(t, dir, "", "migrate")
	if err != nil || !strings.Contains(out, "up to date") || !strings.Contains(out, "First start") {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	out, err = run(t, dir, reg.Password+"\n", "registry", "add", "--name", "dist", "--type", "SwrPrivate", "--protocol", "http", "--addr", reg.Addr, "--username", reg.Username)
	if err != nil || !strings.Contains(out, "Added registry dist") {
		t.Fatalf("registry add: %v\n%s", err, out)
	}
	if out, err = run(t, dir, "", "registry", "add", "--name", "bad", "--addr", "https://x"); err == nil || !strings.Contains(err.Error(), "registry_addr") {
		t.Errorf("registry add with a scheme in the address: %v\n%s", err, out)
	}
	if out, err = run(t, dir, "", "registry", "add", "--name", "dist", "--addr", "x"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("registry add with a taken name: %v\n%s", err, out)
	}

	out, err = run(t, dir, "", "sync")
	if err != nil || !strings.Contains(out, "Synchronization finished: 5 tags seen, 5 added, 0 updated, 0 removed, 0 could not be read.") {
		t.Fatalf("sync: %v\n%s", err, out)
	}
	out, err = run(t, dir, "", "sync", "--registry", "dist")
	if err != nil || !strings.Contains(out, "5 tags seen, 0 added, 0 updated, 0 removed") {
		t.Fatalf("second sync: %v\n%s", err, out)
	}
	out, err = run(t, dir, "", "registry", "list")
	if err != nil || !strings.Contains(out, "dist") || !strings.Contains(out, "success") || strings.Contains(out, reg.Password) {
		t.Fatalf("registry list: %v\n%s", err, out)
	}
	if _, err = run(t, dir, "", "sync", "--registry", "nope"); err == nil {
		t.Error("sync of an unknown registry succeeded")
	}

	// A wrong password: the synchronization fails and says why.
	out, err = run(t, dir, "wrong\n", "registry", "add", "--name", "wrong", "--type", "Harbor", "--protocol", "http", "--addr", reg.Addr, "--username", reg.Username)
	if err != nil {
		t.Fatal(err)
	}
	out, err = run(t, dir, "", "sync", "--registry", "wrong")
	if err == nil || !strings.Contains(out, "unauthorized") {
		t.Errorf("sync with a wrong password: %v\n%s", err, out)
	}

	out, err = run(t, dir, "", "registry", "remove", "dist")
	if err != nil || !strings.Contains(out, "Removed registry dist") {
		t.Fatalf("registry remove: %v\n%s", err, out)
	}
	out, _ = run(t, dir, "", "registry", "list")
	if strings.Contains(out, "dist ") {
		t.Errorf("after remove, list still shows it:\n%s", out)
	}
}
