package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"customs"
	"customs/analyzer/malware"
	"customs/vulndb"
)

func (m *Main) scanCommand() *cobra.Command {
	var projectRef string
	var rescan bool
	var workers int
	cmd := &cobra.Command{
		Use:   "scan [REPOSITORY[:TAG]...]",
		Short: "Scan the project's images now, in the foreground",
		Long: "Scan the project's images (or those of the repositories named, such as team/app or team/app:1.0)\n" +
			"that have no successful scan (never scanned, waiting for a scan, or failed), or all of them again\n" +
			"with --rescan, showing progress, and print each result. It works beside a running service on the\n" +
			"same data directory; images that service is scanning now are left to it.",
		RunE: m.withStore(func(ctx context.Context, args []string) error {
			if err := m.openScans(ctx, 0); err != nil {
				return err
			}
			m.warnStaleAdvisories(ctx)
			p, err := m.project(ctx, projectRef)
			if err != nil {
				return err
			}
			selected, err := m.scanDigests(ctx, customs.ProjectScope(p.ID), args)
			if err != nil {
				return err
			}
			if !rescan {
				if selected, err = m.unscanned(ctx, selected); err != nil {
					return err
				}
			}
			digests, err := m.DB.QueueScans(ctx, selected, true)
			if err != nil {
				return err
			}
			if len(digests) == 0 {
				fmt.Fprintln(m.Stdout, "Nothing to scan: every image selected has a successful scan, or is being scanned (scan again with --rescan).")
				return nil
			}
			bar := m.progressBar("scanning")
			if bar != nil {
				bar.ChangeMax(len(digests))
			}
			var mu sync.Mutex
			done := 0
			g, gctx := errgroup.WithContext(ctx)
			g.SetLimit(max(workers, 1))
			for _, d := range digests {
				g.Go(func() error {
					err := m.Scans.Scan(gctx, d)
					mu.Lock()
					defer mu.Unlock()
					done++
					if bar != nil {
						bar.Add(1)
					} else {
						fmt.Fprintf(m.Stderr, "scanned %d of %d\n", done, len(digests))
					}
					return err
				})
			}
			err = g.Wait()
			if bar != nil {
				bar.Finish()
				fmt.Fprintln(m.Stderr)
			}
			if err != nil {
				return err
			}
			return m.printScans(ctx, digests)
		}),
	}
	cmd.Flags().StringVar(&projectRef, "project", "", "project id or name (default: the project named after the region)")
	cmd.Flags().BoolVar(&rescan, "rescan", false, "scan images that were scanned before too")
	cmd.Flags().IntVar(&workers, "workers", 2, "images scanned at once")
	return cmd
}

// withStore returns a command's run function that opens the data
// directory, runs fn, and closes it.
func (m *Main) withStore(fn func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		defer m.Close()
		if err := m.OpenStore(cmd.Context()); err != nil {
			return err
		}
		return fn(cmd.Context(), args)
	}
}

// unscanned returns the digests among digests without a successful scan
// that no one is scanning now.
func (m *Main) unscanned(ctx context.Context, digests []string) ([]string, error) {
	sums, err := m.DB.ScanSummaries(ctx, digests)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(digests, func(d string) bool {
		st := sums[d].Status
		return st == customs.ScanSuccess || st == customs.ScanScanning
	}), nil
}

// printScans prints the outcome of the scans of digests.
func (m *Main) printScans(ctx context.Context, digests []string) error {
	sums, err := m.DB.ScanSummaries(ctx, digests)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "DIGEST\tSTATUS\tVULNERABILITIES\tMALICIOUS FILES\tUNSAFE SETTINGS")
	failed := 0
	for _, d := range digests {
		s := sums[d]
		status := string(s.Status)
		if s.Status == customs.ScanFailed {
			status += ": " + s.FailedDesc
			failed++
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\n", shortDigest(d), status, s.VulNum, s.MaliciousFileNum, s.UnsafeSettingNum)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d scans failed", failed, len(digests))
	}
	return nil
}

func shortDigest(d string) string {
	if _, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return hex[:12]
	}
	return d
}

func (m *Main) vulndbCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "vulndb", Short: "Load and inspect the vulnerability advisories (OSV)"}
	importCmd := &cobra.Command{
		Use:   "import PATH...",
		Short: "Import OSV advisories: <Ecosystem>/all.zip files, directories of JSON records, or JSON files",
		Example: "  customs vulndb import Debian/all.zip Go/all.zip\n" +
			"  customs vulndb import ./advisories/",
		Args: cobra.MinimumNArgs(1),
		RunE: m.withStore(func(ctx context.Context, args []string) error {
			var imports []vulndb.Stats
			for _, path := range args {
				st, err := vulndb.Import(ctx, m.DB, path)
				if err != nil {
					// What earlier paths imported is matched all the same.
					return errors.Join(err, m.rematch(ctx, imports...))
				}
				m.printImport(path, st)
				imports = append(imports, st)
			}
			return m.rematch(ctx, imports...)
		}),
	}
	var source string
	var ecosystems []string
	update := &cobra.Command{
		Use:   "update",
		Short: "Download the advisories of each ecosystem from an OSV mirror and import what changed",
		Long: "Download <source>/<Ecosystem>/all.zip for each ecosystem (the layout of the OSV bucket) and import\n" +
			"the records that changed; the scanned images are matched again against what changed.",
		Args: cobra.NoArgs,
		RunE: m.withStore(func(ctx context.Context, _ []string) error {
			u := &vulndb.Updater{
				Store: m.DB, Client: &http.Client{Timeout: 30 * time.Minute}, BaseURL: source,
				TempDir: filepath.Join(m.Config.DataDir, "cache", "tmp"), Logger: m.Logger.With("component", "vulndb"),
			}
			if err := os.MkdirAll(u.TempDir, 0o700); err != nil {
				return err
			}
			st, err := u.Update(ctx, ecosystems)
			m.printImport(source, st)
			// What was imported before a failure is matched all the same.
			return errors.Join(err, m.rematch(ctx, st))
		}),
	}
	update.Flags().StringVar(&source, "source", "https://osv-vulnerabilities.storage.googleapis.com", "base URL of the OSV mirror")
	update.Flags().StringSliceVar(&ecosystems, "ecosystem", vulndb.DefaultEcosystems, "ecosystems to download")
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the advisories held per ecosystem: records, newest record and last import",
		Args:  cobra.NoArgs,
		RunE: m.withStore(func(ctx context.Context, _ []string) error {
			st, err := m.DB.EcosystemStatuses(ctx)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ECOSYSTEM\tRECORDS\tWITHDRAWN\tNEWEST MODIFIED\tIMPORTED")
			for _, s := range st {
				fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\n", s.Ecosystem, s.Records, s.Withdrawn, s.Newest.UTC().Format(time.RFC3339), s.ImportedAt.UTC().Format(time.RFC3339))
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if msg := staleAdvisories(st, m.Config.VulnDBMaxAge, time.Now()); msg != "" {
				fmt.Fprintln(m.Stdout, "Warning: "+msg)
			}
			return nil
		}),
	}
	cmd.AddCommand(importCmd, update, status)
	return cmd
}

func (m *Main) printImport(source string, st vulndb.Stats) {
	fmt.Fprintf(m.Stdout, "%s: %d records read, %d added, %d updated, %d unchanged, %d withdrawn.\n",
		source, st.Read, st.Added, st.Updated, st.Unchanged, st.Withdrawn)
}

func (m *Main) sigsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "sigs", Short: "Import, list and remove malware signature files (ClamAV hash formats)"}
	importCmd := &cobra.Command{
		Use:   "import FILE...",
		Short: "Import ClamAV signature files: .hdb .hsb .hdu .hsu .fp .sfp, or .cvd/.cld databases",
		Long: "Import ClamAV signature files. The hash signatures of each (MD5 and SHA1/SHA256 of whole files)\n" +
			"are used by every later scan, beside the built-in set; a file of the same name is replaced.\n" +
			"Other signature kinds inside a .cvd/.cld (body, logical, PE section) are not used.",
		Example: "  customs sigs import /var/lib/clamav/main.cvd /var/lib/clamav/daily.cvd\n" +
			"  customs sigs import local.hsb",
		Args: cobra.MinimumNArgs(1),
		RunE: m.withStore(func(ctx context.Context, args []string) error {
			for _, path := range args {
				data, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				name := filepath.Base(path)
				var b malware.Builder
				if err := b.Add(name, bytes.NewReader(data)); err != nil {
					return err
				}
				db := b.Build()
				if db.Len() == 0 {
					return fmt.Errorf("%s holds no hash signatures Customs can use", path)
				}
				sum := sha256.Sum256(data)
				if err := m.DB.PutSignatureFile(ctx, &customs.SignatureFile{Name: name, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)), Content: data}); err != nil {
					return err
				}
				fmt.Fprintf(m.Stdout, "Imported %s: %d hash signatures.\n", name, db.Len())
				if st := db.Stats(); len(st.Ignored) > 0 || st.Wildcard > 0 {
					fmt.Fprintf(m.Stdout, "  not used: files of other signature kinds %v; signatures of unknown size: %d (each makes every file be hashed)\n", st.Ignored, st.Wildcard)
				}
			}
			return nil
		}),
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the imported signature files",
		Args:  cobra.NoArgs,
		RunE: m.withStore(func(ctx context.Context, _ []string) error {
			files, err := m.DB.SignatureFiles(ctx, false)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tSIZE\tSHA256\tIMPORTED")
			for _, f := range files {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", f.Name, f.Size, f.SHA256, f.ImportedAt.UTC().Format(time.RFC3339))
			}
			fmt.Fprintln(w, "(built in)\t\tthe EICAR test file\t")
			return w.Flush()
		}),
	}
	remove := &cobra.Command{
		Use:   "remove NAME...",
		Short: "Remove imported signature files",
		Args:  cobra.MinimumNArgs(1),
		RunE: m.withStore(func(ctx context.Context, args []string) error {
			for _, name := range slices.Compact(args) {
				if err := m.DB.DeleteSignatureFile(ctx, name); customs.ErrorCode(err) == customs.ENOTFOUND {
					return fmt.Errorf("%s", customs.ErrorMessage(err))
				} else if err != nil {
					return err
				}
				fmt.Fprintf(m.Stdout, "Removed %s.\n", name)
			}
			return nil
		}),
	}
	cmd.AddCommand(importCmd, list, remove)
	return cmd
}
