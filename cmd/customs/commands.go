package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"customs"
)

// Run runs the command line args.
func (m *Main) Run(ctx context.Context, args []string) error {
	root := m.command()
	root.SetArgs(args)
	root.SetIn(m.Stdin)
	root.SetOut(m.Stdout)
	root.SetErr(m.Stderr)
	return root.ExecuteContext(ctx)
}

func (m *Main) command() *cobra.Command {
	var configFile string
	root := &cobra.Command{
		Use:           "customs",
		Short:         "Customs inspects the container images in your registries",
		Long:          "Customs keeps an inventory of every image version in your OCI/Docker registries and serves it\nthrough the Huawei Cloud HSS v5 API, so the official SDKs and consoles work against it.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&configFile, "config", "", "file of CUSTOMS_*=value settings (applied before the environment)")
	pf.String("data", m.Config.DataDir, "data directory (CUSTOMS_DATA)")
	pf.String("region", m.Config.Region, "region name (CUSTOMS_REGION)")
	pf.StringVar(&m.domain, "domain", "admin", "the domain (account) a command acts in")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if configFile != "" {
			if err := m.Config.LoadFile(configFile); err != nil {
				return err
			}
		}
		if err := m.Config.LoadEnv(m.Getenv); err != nil {
			return err
		}
		for flag, setting := range map[string]string{"data": "CUSTOMS_DATA", "region": "CUSTOMS_REGION", "addr": "CUSTOMS_ADDR"} {
			if f := cmd.Flags().Lookup(flag); f != nil && f.Changed {
				if err := m.Config.Set(setting, f.Value.String()); err != nil {
					return err
				}
			}
		}
		return nil
	}
	root.AddCommand(m.serveCommand(), m.syncCommand(), m.scanCommand(), m.vulndbCommand(), m.sigsCommand(), m.registryCommand(), m.iamCommand(), m.demoCommand(), m.migrateCommand())
	return root
}

func (m *Main) serveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the API service with background synchronization",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := m.Open(cmd.Context()); err != nil {
				m.Close()
				return err
			}
			fmt.Fprintf(m.Stdout, "Customs is serving the HSS API on %s (region %s, data in %s).\n", m.Server.URL(), m.Config.Region, m.Config.DataDir)
			m.warnStaleAdvisories(cmd.Context())
			<-cmd.Context().Done()
			fmt.Fprintln(m.Stdout, "Shutting down.")
			return m.Close()
		},
	}
	cmd.Flags().String("addr", m.Config.Addr, "listen address (CUSTOMS_ADDR)")
	return cmd
}

func (m *Main) migrateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the database in the data directory, then exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := m.OpenStore(cmd.Context()); err != nil {
				m.Close()
				return err
			}
			fmt.Fprintf(m.Stdout, "The database in %s is up to date.\n", m.Config.DataDir)
			return m.Close()
		},
	}
}

// project returns the project a command works on, in the domain of the
// --domain flag: by id or name, or the project named after the region.
func (m *Main) project(ctx context.Context, ref string) (*customs.Project, error) {
	d, err := m.DB.FindDomainByName(ctx, m.domain)
	if err != nil {
		return nil, fmt.Errorf("domain %q: %s", m.domain, customs.ErrorMessage(err))
	}
	if ref == "" {
		ref = m.Config.Region
	}
	for _, f := range []customs.ProjectFilter{{DomainID: d.ID, ID: ref}, {DomainID: d.ID, Name: ref}} {
		ps, err := m.DB.FindProjects(ctx, f)
		if err != nil {
			return nil, err
		}
		if len(ps) == 1 {
			return ps[0], nil
		}
	}
	return nil, fmt.Errorf("no project %q in domain %q; choose one with --project", ref, m.domain)
}

func (m *Main) syncCommand() *cobra.Command {
	var projectRef string
	var registries []string
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Synchronize the project's registries now, in the foreground",
		Long:  "Synchronize the project's registries (or those named with --registry) now, showing progress,\nand print what changed. It works beside a running service on the same data directory.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := m.OpenStore(ctx); err != nil {
				m.Close()
				return err
			}
			defer m.Close()
			p, err := m.project(ctx, projectRef)
			if err != nil {
				return err
			}
			scope := customs.ProjectScope(p.ID)
			req := customs.SyncRequest{Trigger: customs.TriggerManual, All: true}
			if len(registries) > 0 {
				regs, err := m.registriesByRef(ctx, scope, registries)
				if err != nil {
					return err
				}
				req = customs.SyncRequest{Trigger: customs.TriggerManual}
				for _, r := range regs {
					req.RegistryIDs = append(req.RegistryIDs, r.ID)
				}
			}
			runner := m.newRunner()
			if m.Config.ScanOnSync {
				// Queued in the database: a running service's workers scan them.
				if err := m.openScans(ctx, 0); err != nil {
					return err
				}
				runner.Syncer.Scans = m.Scans
			}
			bar := m.progressBar("synchronizing")
			task, err := runner.RunSync(ctx, scope, req, func(t *customs.SyncTask) {
				if bar != nil {
					bar.Set(t.Progress)
					bar.Describe(fmt.Sprintf("synchronizing: %d tags", t.Total))
				}
			})
			if bar != nil {
				bar.Finish()
				fmt.Fprintln(m.Stderr)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "Synchronization %s: %d tags seen, %d added, %d updated, %d removed, %d could not be read.\n",
				task.State, task.Total, task.Counts.Added, task.Counts.Updated, task.Counts.Removed, task.Failed)
			for _, f := range task.FailedImages {
				fmt.Fprintf(m.Stdout, "  %s %s:%s: %s\n", f.RegistryName, customs.JoinRepository(f.Namespace, f.Name), f.Tag, f.Reason)
			}
			if task.FailedReason != "" {
				fmt.Fprintln(m.Stdout, "  "+task.FailedReason)
			}
			if task.State != customs.TaskFinished {
				return fmt.Errorf("synchronization %s", task.State)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&projectRef, "project", "", "project id or name (default: the project named after the region)")
	cmd.Flags().StringArrayVar(&registries, "registry", nil, "registry name or id to synchronize (repeatable; default: all)")
	return cmd
}

// progressBar returns a bar on standard error when it is a terminal, else nil.
func (m *Main) progressBar(desc string) *progressbar.ProgressBar {
	f, ok := m.Stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return progressbar.NewOptions(100, progressbar.OptionSetWriter(m.Stderr), progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
}

func (m *Main) registriesByRef(ctx context.Context, scope customs.Scope, refs []string) ([]*customs.Registry, error) {
	all, err := m.DB.FindRegistries(ctx, scope, customs.RegistryFilter{})
	if err != nil {
		return nil, err
	}
	var out []*customs.Registry
	for _, ref := range refs {
		found := false
		for _, r := range all {
			if r.ID == ref || r.Name == ref {
				out = append(out, r)
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("no registry %q in the project", ref)
		}
	}
	return out, nil
}

func (m *Main) registryCommand() *cobra.Command {
	var projectRef string
	cmd := &cobra.Command{Use: "registry", Short: "Add, list and remove the registries a project synchronizes"}
	cmd.PersistentFlags().StringVar(&projectRef, "project", "", "project id or name (default: the project named after the region)")
	open := func(ctx context.Context) (customs.Scope, error) {
		if err := m.OpenStore(ctx); err != nil {
			return customs.Scope{}, err
		}
		p, err := m.project(ctx, projectRef)
		if err != nil {
			return customs.Scope{}, err
		}
		return customs.ProjectScope(p.ID), nil
	}

	r := customs.Registry{Protocol: "https", EnterpriseProjectID: customs.DefaultEnterpriseProject}
	add := &cobra.Command{
		Use:   "add",
		Short: "Add a registry (the password, if any, is read from standard input)",
		Example: "  customs registry add --name harbor --type Harbor --addr harbor.example.com --username robot <password.txt\n" +
			"  customs registry add --name local --type SwrPrivate --protocol http --addr 127.0.0.1:5000",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			defer m.Close()
			scope, err := open(ctx)
			if err != nil {
				return err
			}
			if r.Username != "" {
				if r.Password, err = m.readPassword(fmt.Sprintf("Password for %s at %s: ", r.Username, r.Addr)); err != nil {
					return err
				}
			}
			if err := r.Validate(); err != nil {
				return fmt.Errorf("%s", customs.ErrorMessage(err))
			}
			if err := m.DB.CreateRegistry(ctx, scope, &r); err != nil {
				if code := customs.ErrorCode(err); code != customs.EINTERNAL {
					return fmt.Errorf("%s", customs.ErrorMessage(err))
				}
				return err
			}
			fmt.Fprintf(m.Stdout, "Added registry %s (id %s); synchronize it with: customs sync --registry %s\n", r.Name, r.ID, r.Name)
			return nil
		},
	}
	f := add.Flags()
	f.StringVar(&r.Name, "name", "", "registry name, unique in the project (required)")
	f.StringVar((*string)(&r.Type), "type", string(customs.OtherRegistry), "SwrPrivate (the project's primary registry: private_image), or SwrEnterprise, Harbor, Jfrog, Other (instances: instance_image)")
	f.StringVar(&r.Protocol, "protocol", r.Protocol, "http or https")
	f.StringVar(&r.Addr, "addr", "", "host[:port] (required)")
	f.StringVar(&r.Username, "username", "", "user name (the password is then read from standard input)")
	f.StringVar(&r.Namespace, "namespace", "", "synchronize only the repositories in this namespace")
	f.StringVar(&r.EnterpriseProjectID, "enterprise-project", r.EnterpriseProjectID, "enterprise project id")
	add.MarkFlagRequired("name")
	add.MarkFlagRequired("addr")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the project's registries (never their passwords)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			defer m.Close()
			scope, err := open(ctx)
			if err != nil {
				return err
			}
			regs, err := m.DB.FindRegistries(ctx, scope, customs.RegistryFilter{})
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tTYPE\tURL\tNAMESPACE\tSTATUS\tIMAGES\tLAST SYNC")
			for _, r := range regs {
				last := "never"
				if !r.LatestSyncTime.IsZero() {
					last = r.LatestSyncTime.Local().Format(time.DateTime)
				}
				status := r.Status
				if r.FailReason != "" {
					status += ": " + r.FailReason
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.ID, r.Name, r.Type, r.URL(), r.Namespace, status, r.ImagesNum, last)
			}
			return w.Flush()
		},
	}

	remove := &cobra.Command{
		Use:   "remove NAME|ID",
		Short: "Remove a registry and every image row synchronized from it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			defer m.Close()
			scope, err := open(ctx)
			if err != nil {
				return err
			}
			regs, err := m.registriesByRef(ctx, scope, args)
			if err != nil {
				return err
			}
			if err := m.DB.DeleteRegistry(ctx, scope, regs[0].ID); err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "Removed registry %s and its images.\n", regs[0].Name)
			return nil
		},
	}
	cmd.AddCommand(add, list, remove)
	return cmd
}

// readPassword reads a password: without echo from a terminal, else the
// first line of standard input.
func (m *Main) readPassword(prompt string) (string, error) {
	if f, ok := m.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(m.Stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(m.Stderr)
		return string(b), err
	}
	line, err := bufio.NewReader(m.Stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
