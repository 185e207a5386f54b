package main

import (
	"context"
	"fmt"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"customs"
)

// iamCommand administers identities on the data directory, as the
// administrator of a domain: the operator's counterpart of the IAM API.
func (m *Main) iamCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "iam", Short: "Administer domains, users, groups, access keys, policies and grants, as a domain's administrator (--domain)"}

	// operator opens the store and returns the domain administrator's
	// principal, scoped to the project named after the region.
	operator := func(ctx context.Context) (*customs.Principal, error) {
		if err := m.OpenStore(ctx); err != nil {
			return nil, err
		}
		d, err := m.DB.FindDomainByName(ctx, m.domain)
		if err != nil {
			return nil, fmt.Errorf("domain %q: %s", m.domain, customs.ErrorMessage(err))
		}
		users, err := m.DB.FindUsers(ctx, d.ID)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(users, func(u *customs.User) bool { return u.Admin && u.Enabled })
		if i < 0 {
			return nil, fmt.Errorf("domain %q has no enabled administrator", m.domain)
		}
		p := &customs.Principal{User: users[i], Domain: d, Region: m.Config.Region}
		if ps, err := m.DB.FindProjects(ctx, customs.ProjectFilter{DomainID: d.ID, Name: m.Config.Region}); err == nil && len(ps) == 1 {
			p.Project = ps[0]
		}
		return p, nil
	}
	userID := func(ctx context.Context, caller *customs.Principal, name string) (string, error) {
		u, err := m.DB.FindUserByName(ctx, caller.Domain.ID, name)
		if err != nil {
			return "", fmt.Errorf("user %q: %s", name, customs.ErrorMessage(err))
		}
		return u.ID, nil
	}
	plain := func(err error) error {
		if err != nil && customs.ErrorCode(err) != customs.EINTERNAL {
			return fmt.Errorf("%s", customs.ErrorMessage(err))
		}
		return err
	}
	run := func(fn func(ctx context.Context, caller *customs.Principal, args []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			defer m.Close()
			caller, err := operator(cmd.Context())
			if err != nil {
				return err
			}
			return plain(fn(cmd.Context(), caller, args))
		}
	}

	domainCreate := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a domain with its administrator and a project named after the region (password from standard input)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			defer m.Close()
			if err := m.OpenStore(cmd.Context()); err != nil {
				return err
			}
			admin, _ := cmd.Flags().GetString("admin")
			password, err := m.readPassword(fmt.Sprintf("Password for %s in domain %s: ", admin, args[0]))
			if err != nil {
				return err
			}
			d, u, p, err := m.IAM.CreateDomain(cmd.Context(), args[0], admin, password)
			if err != nil {
				return plain(err)
			}
			fmt.Fprintf(m.Stdout, "Created domain %s (id %s), administrator %s (id %s), project %s (id %s).\n", d.Name, d.ID, u.Name, u.ID, p.Name, p.ID)
			return nil
		},
	}
	domainCreate.Flags().String("admin", "admin", "the administrator's user name")
	domains := &cobra.Command{Use: "domain", Short: "Domains (accounts)"}
	domains.AddCommand(domainCreate)

	var admin bool
	userCreate := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a user (password from standard input)",
		Args:  cobra.ExactArgs(1),
		RunE: run(func(ctx context.Context, caller *customs.Principal, args []string) error {
			password, err := m.readPassword(fmt.Sprintf("Password for %s: ", args[0]))
			if err != nil {
				return err
			}
			u, err := m.IAM.CreateUser(ctx, caller, args[0], password, true)
			if err != nil {
				return err
			}
			if admin { // an operator's act: the API makes no administrators
				full, err := m.DB.FindUserByID(ctx, u.ID)
				if err != nil {
					return err
				}
				full.Admin = true
				if err := m.DB.UpdateUser(ctx, full); err != nil {
					return err
				}
			}
			fmt.Fprintf(m.Stdout, "Created user %s (id %s).\n", u.Name, u.ID)
			return nil
		}),
	}
	userCreate.Flags().BoolVar(&admin, "admin", false, "make the user an administrator of the domain")
	userList := &cobra.Command{
		Use: "list", Short: "List the domain's users", Args: cobra.NoArgs,
		RunE: run(func(ctx context.Context, caller *customs.Principal, _ []string) error {
			users, err := m.IAM.Users(ctx, caller)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tADMIN\tENABLED")
			for _, u := range users {
				fmt.Fprintf(w, "%s\t%s\t%v\t%v\n", u.ID, u.Name, u.Admin, u.Enabled)
			}
			return w.Flush()
		}),
	}
	users := &cobra.Command{Use: "user", Short: "Users"}
	users.AddCommand(userCreate, userList)

	var description string
	credCreate := &cobra.Command{
		Use:   "create USER",
		Short: "Create an access key (AK/SK) for a user; the secret key is shown once",
		Args:  cobra.ExactArgs(1),
		RunE: run(func(ctx context.Context, caller *customs.Principal, args []string) error {
			id, err := userID(ctx, caller, args[0])
			if err != nil {
				return err
			}
			c, secret, err := m.IAM.CreateCredential(ctx, caller, id, description)
			if err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "Access key (AK): %s\nSecret key (SK): %s\nThe secret key is shown once; keep it now.\n", c.AccessKey, secret)
			return nil
		}),
	}
	credCreate.Flags().StringVar(&description, "description", "", "what the key is for")
	credList := &cobra.Command{
		Use: "list USER", Short: "List a user's access keys", Args: cobra.ExactArgs(1),
		RunE: run(func(ctx context.Context, caller *customs.Principal, args []string) error {
			id, err := userID(ctx, caller, args[0])
			if err != nil {
				return err
			}
			cs, err := m.IAM.Credentials(ctx, caller, id)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ACCESS KEY\tSTATUS\tCREATED\tLAST USED\tDESCRIPTION")
			for _, c := range cs {
				used := "never"
				if !c.LastUsedAt.IsZero() {
					used = c.LastUsedAt.Local().Format("2006-01-02 15:04")
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", c.AccessKey, c.Status, c.CreatedAt.Local().Format("2006-01-02 15:04"), used, c.Description)
			}
			return w.Flush()
		}),
	}
	credDelete := &cobra.Command{
		Use: "delete ACCESS_KEY", Short: "Delete an access key", Args: cobra.ExactArgs(1),
		RunE: run(func(ctx context.Context, caller *customs.Principal, args []string) error {
			return m.IAM.DeleteCredential(ctx, caller, args[0])
		}),
	}
	creds := &cobra.Command{Use: "credential", Short: "Access keys (AK/SK) for the SDKs"}
	creds.AddCommand(credCreate, credList, credDelete)

	groupCreate := &cobra.Command{
		Use: "create NAME", Short: "Create a group", Args: cobra.ExactArgs(1),
		RunE: run(func(ctx context.Context, caller *customs.Principal, args []string) error {
			g, err := m.IAM.CreateGroup(ctx, caller, args[0], "")
			if err == nil {
				fmt.Fprintf(m.Stdout, "Created group %s (id %s).\n", g.Name, g.ID)
			}
			return err
		}),
	}
	groupAdd := &cobra.Command{
		Use: "add GROUP USER", Short: "Add a user to a group", Args: cobra.ExactArgs(2),
		RunE: run(func(ctx context.Context, caller *customs.Principal, args []string) error {
			g, err := m.groupID(ctx, caller, args[0])
			if err != nil {
				return err
			}
			u, err := userID(ctx, caller, args[1])
			if err != nil {
				return err
			}
			return m.IAM.AddGroupMember(ctx, caller, g, u)
		}),
	}
	groups := &cobra.Command{Use: "group", Short: "Groups"}
	groups.AddCommand(groupCreate, groupAdd)

	epCreate := &cobra.Command{
		Use: "create NAME", Short: "Create an enterprise project", Args: cobra.ExactArgs(1),
		RunE: run(func(ctx context.Context, caller *customs.Principal, args []string) error {
			ep, err := m.IAM.CreateEnterpriseProject(ctx, caller, args[0], "")
			if err == nil {
				fmt.Fprintf(m.Stdout, "Created enterprise project %s (id %s).\n", ep.Name, ep.ID)
			}
			return err
		}),
	}
	eps := &cobra.Command{Use: "enterprise-project", Short: "Enterprise projects"}
	eps.AddCommand(epCreate)

	var actions []string
	policyCreate := &cobra.Command{
		Use: "create NAME --action hss:images:list [--action ...]", Short: "Create a custom policy", Args: cobra.ExactArgs(1),
		RunE: run(func(ctx context.Context, caller *customs.Principal, args []string) error {
			p, err := m.IAM.CreatePolicy(ctx, caller, args[0], "", actions)
			if err == nil {
				fmt.Fprintf(m.Stdout, "Created policy %s (id %s).\n", p.Name, p.ID)
			}
			return err
		}),
	}
	policyCreate.Flags().StringArrayVar(&actions, "action", nil, "an action the policy allows (repeatable)")
	policyList := &cobra.Command{
		Use: "list", Short: "List the system and custom policies", Args: cobra.NoArgs,
		RunE: run(func(ctx context.Context, caller *customs.Principal, _ []string) error {
			ps, err := m.IAM.Policies(ctx, caller)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tACTIONS")
			for _, p := range ps {
				fmt.Fprintf(w, "%s\t%s\t%v\n", p.ID, p.Name, p.Actions)
			}
			return w.Flush()
		}),
	}
	policies := &cobra.Command{Use: "policy", Short: "Policies: what actions a grant allows"}
	policies.AddCommand(policyCreate, policyList)

	var g struct{ user, group, policy, project, ep string }
	grant := &cobra.Command{
		Use:   "grant --policy ID (--user NAME | --group NAME) (--project NAME | --enterprise-project ID)",
		Short: "Grant a policy to a user or group, in a project or in an enterprise project",
		Args:  cobra.NoArgs,
		RunE: run(func(ctx context.Context, caller *customs.Principal, _ []string) error {
			gr := &customs.Grant{PolicyID: g.policy, EnterpriseProjectID: g.ep}
			var err error
			if g.user != "" {
				if gr.UserID, err = userID(ctx, caller, g.user); err != nil {
					return err
				}
			}
			if g.group != "" {
				if gr.GroupID, err = m.groupID(ctx, caller, g.group); err != nil {
					return err
				}
			}
			if g.project != "" {
				p, err := m.project(ctx, g.project)
				if err != nil {
					return err
				}
				gr.ProjectID = p.ID
			}
			if err := m.IAM.Grant(ctx, caller, gr); err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "Granted %s (grant id %s).\n", g.policy, gr.ID)
			return nil
		}),
	}
	for _, f := range []struct {
		p          *string
		name, help string
	}{{&g.user, "user", "user name"}, {&g.group, "group", "group name"}, {&g.policy, "policy", "policy id (hss-admin, hss-readonly, or a custom policy's id)"},
		{&g.project, "project", "project name or id (the grant holds in every enterprise project of it)"},
		{&g.ep, "enterprise-project", "enterprise project id (the grant holds in every project of the domain)"}} {
		grant.Flags().StringVar(f.p, f.name, "", f.help)
	}
	grant.MarkFlagRequired("policy")

	cmd.AddCommand(domains, users, creds, groups, eps, policies, grant)
	return cmd
}

func (m *Main) groupID(ctx context.Context, caller *customs.Principal, name string) (string, error) {
	gs, err := m.DB.FindGroups(ctx, caller.Domain.ID)
	if err != nil {
		return "", err
	}
	for _, g := range gs {
		if g.Name == name || g.ID == name {
			return g.ID, nil
		}
	}
	return "", fmt.Errorf("no group %q in domain %q", name, caller.Domain.Name)
}
