// Command customs is the single binary of Customs: the API service, its
// background synchronization, and the commands that manage a data directory.
// It is the only package that names concrete types: it reads the
// configuration and wires the store, the identity service, the registry
// client, the synchronizer and the HTTP API together.
package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"customs"
	"customs/httpapi"
	"customs/iam"
	"customs/oci"
	"customs/reposync"
	"customs/scanjob"
	"customs/store/sqlite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain()
	if err := m.Run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(m.Stderr, "customs:", err)
		os.Exit(1)
	}
}

// Main holds the wiring of the program, so that tests can run all of it on a
// temporary directory and a free port.
type Main struct {
	Config Config
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string

	Logger *slog.Logger
	DB     *sqlite.DB
	IAM    *iam.Service
	Runner *reposync.Runner
	Scans  *scanjob.Runner
	Server *httpapi.Server
	// Bootstrap says what the first start created (and the generated
	// password, when there was one).
	Bootstrap *iam.BootstrapResult

	warmed   chan struct{}
	stopWarm func()
	scanDB   *sql.DB // the scan queue's connection
	domain   string  // the domain a command acts in (--domain)
}

// NewMain returns a Main with the default configuration and the process's
// standard streams and environment.
func NewMain() *Main {
	return &Main{Config: DefaultConfig(), Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, domain: "admin"}
}

// OpenStore opens the data directory: the secret key, the database (applying
// migrations) and the identity service, creating the first domain, user and
// project on first start.
func (m *Main) OpenStore(ctx context.Context) error {
	c := m.Config
	if m.Logger == nil {
		m.Logger = newLogger(m.Stderr, c)
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	key, err := iam.LoadOrCreateKey(filepath.Join(c.DataDir, "secret.key"), c.SecretKey)
	if err != nil {
		return err
	}
	cipher, err := iam.NewCipher(key)
	if err != nil {
		return err
	}
	m.DB = sqlite.New(filepath.Join(c.DataDir, "customs.db"))
	m.DB.Cipher = cipher
	m.DB.Logger = m.Logger.With("component", "sqlite")
	if err := m.DB.Open(ctx); err != nil {
		return err
	}
	m.IAM = &iam.Service{Store: m.DB, Region: c.Region, Logger: m.Logger.With("component", "iam")}
	if m.Bootstrap, err = m.IAM.Bootstrap(ctx, c.AdminPassword); err != nil {
		return fmt.Errorf("first start: %w", err)
	}
	if b := m.Bootstrap; b.Created {
		fmt.Fprintf(m.Stdout, "First start: created domain %q, user %q and project %q (id %s).\n", b.Domain.Name, b.User.Name, b.Project.Name, b.Project.ID)
		if b.GeneratedPassword != "" {
			fmt.Fprintf(m.Stdout, "The admin password is shown once; keep it now:\n\n    %s\n\n", b.GeneratedPassword)
		}
	}
	return nil
}

// newSyncer returns the synchronizer over the opened store.
func (m *Main) newSyncer() *reposync.Syncer {
	c := m.Config
	return &reposync.Syncer{
		Store:       m.DB,
		Concurrency: c.SyncConcurrency,
		Logger:      m.Logger.With("component", "reposync"),
		Dial: func(reg *customs.Registry) (reposync.Registry, error) {
			return oci.New(reg, oci.WithConcurrency(c.RegistryConcurrency), oci.WithLogger(m.Logger.With("component", "oci", "registry", reg.Name)))
		},
	}
}

// Open opens the store and starts the service: background synchronization
// and the HTTP API. It returns once the API listens.
func (m *Main) Open(ctx context.Context) error {
	if err := m.OpenStore(ctx); err != nil {
		return err
	}
	if err := m.openScans(ctx, m.Config.ScanWorkers); err != nil {
		return err
	}
	if m.Config.ScanWorkers > 0 {
		if err := m.Scans.Start(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("start scan workers: %w", err)
		}
	}
	m.Runner = m.newRunner()
	if m.Config.ScanOnSync {
		m.Runner.Syncer.Scans = m.Scans
	}
	m.Runner.Interval = m.Config.SyncInterval
	if err := m.Runner.Open(); err != nil {
		return err
	}
	// Load the list indexes now rather than on the first list after a start.
	warm, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.stopWarm = func() { cancel(); <-m.warmed }
	m.warmed = make(chan struct{})
	go func() {
		defer close(m.warmed)
		if err := m.DB.WarmIndexes(warm); err != nil && warm.Err() == nil {
			m.Logger.Warn("warm the list indexes", "err", err)
		}
	}()
	m.Server = &httpapi.Server{
		Addr: m.Config.Addr, Region: m.Config.Region,
		Auth: m.IAM, IAM: m.IAM, Images: m.DB, Registries: m.DB, Sync: m.Runner, Shares: m.DB,
		Scans: m.DB, ScanQueue: m.Scans, CheckTypeDescriptions: checkTypeDescriptions(),
		Logger: m.Logger.With("component", "httpapi"),
	}
	return m.Server.Open()
}

// Close stops the service: the API first (in-flight requests finish), then
// synchronizations, then the store.
func (m *Main) Close() error {
	var errs []error
	if m.Server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		errs = append(errs, m.Server.Close(ctx))
	}
	if m.Runner != nil {
		errs = append(errs, m.Runner.Close())
	}
	if m.Scans != nil {
		// Running scans stop with the context; they are queued again at
		// the next start.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		errs = append(errs, m.Scans.Stop(ctx))
	}
	if m.scanDB != nil {
		errs = append(errs, m.scanDB.Close())
	}
	if m.stopWarm != nil {
		m.stopWarm()
	}
	if m.DB != nil {
		errs = append(errs, m.DB.Close())
	}
	return errors.Join(errs...)
}

func newLogger(w io.Writer, c Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// newRunner returns a runner over the opened store for foreground work.
func (m *Main) newRunner() *reposync.Runner {
	return &reposync.Runner{Syncer: m.newSyncer(), Store: m.DB, Logger: m.Logger.With("component", "reposync")}
}
