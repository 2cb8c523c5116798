package bootstrap_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"
	vaultapi "github.com/hashicorp/vault/api"

	"github.com/hstack-dev/hstack/pkg/bootstrap"
	"github.com/hstack-dev/hstack/pkg/clients"
	"github.com/hstack-dev/hstack/pkg/devstack"
	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
	"github.com/hstack-dev/hstack/pkg/workloadid"
	"github.com/hstack-dev/hstack/policies"
)

// secureEnv is one secure dev stack with what the subtests need.
type secureEnv struct {
	s     *devstack.Stack
	root  *vaultapi.Client
	apps  []bootstrap.App
	mgmtN clients.Secret
	mgmtC clients.Secret
}

func (e *secureEnv) nomad(t *testing.T, tok clients.Secret) *nomadapi.Client {
	t.Helper()
	cfg := e.s.ClientConfig()
	cfg.Nomad.Token = tok
	c, err := clients.Nomad(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if tok == "" {
		// clients.Nomad keeps the stack's token for an empty override.
		c.SetSecretID("")
	}
	return c
}

func (e *secureEnv) consul(t *testing.T, tok clients.Secret) *consulapi.Client {
	t.Helper()
	cfg := e.s.ClientConfig()
	cfg.Consul.Token = tok
	if tok == "" {
		cfg.Consul.Token = "anonymous"
	}
	c, err := clients.Consul(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *secureEnv) vault(t *testing.T, tok clients.Secret) *vaultapi.Client {
	t.Helper()
	c, err := e.root.Clone()
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(tok.Reveal())
	return c
}

func (e *secureEnv) token(t *testing.T, key string) clients.Secret {
	t.Helper()
	tok, err := bootstrap.ReadToken(context.Background(), e.root, key)
	if err != nil {
		t.Fatal(err)
	}
	return tok.Secret
}

// TestSecureStack boots `dev up --secure` once and proves, against the
// real Nomad, Consul and Vault: bootstrap is idempotent and keeps tokens
// only in Vault; every policy allows and denies what its table row says;
// TLS refuses clients without the CA or without a client certificate.
func TestSecureStack(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots Nomad, Consul, Vault and PostgreSQL with ACLs and TLS")
	}
	s := devstacktest.Start(t, devstacktest.Secure)
	root, err := s.VaultClient()
	if err != nil {
		t.Fatal(err)
	}
	e := &secureEnv{s: s, root: root, apps: []bootstrap.App{
		{Job: "pingapp", DatabaseService: "main", KVPrefix: "hstack/shop/pingapp/"},
		{Job: "web", KVPrefix: "hstack/shop/web/"},
	}}
	e.mgmtN = e.token(t, "nomad/bootstrap")
	e.mgmtC = e.token(t, "consul/bootstrap")

	t.Run("bootstrap twice", func(t *testing.T) { testBootstrapTwice(t, e) })
	t.Run("hstack bootstrap acl twice", func(t *testing.T) { testBootstrapCLI(t, e) })
	t.Run("bootstrap tokens only in Vault", func(t *testing.T) { testTokensNotOnDisk(t, e) })
	t.Run("policy table", func(t *testing.T) { testPolicyTable(t, e) })
	t.Run("tls", func(t *testing.T) { testTLS(t, e) })
	t.Run("a job reads only its own credentials and KV", func(t *testing.T) { testWorkloadIsolation(t, e) })
}

// testWorkloadIsolation runs two real jobs with a Vault block and uses the
// tokens Nomad got them through workload identity (read from each task's
// secrets directory): each reads its own database credentials and KV, not
// the other's.
func testWorkloadIsolation(t *testing.T, e *secureEnv) {
	ctx := context.Background()
	nc := e.nomad(t, e.token(t, "nomad/deployer"))
	kv := e.root.KVv2(bootstrap.KVMount)
	for _, j := range []string{"pingapp", "other"} {
		if _, err := kv.Put(ctx, "hstack/"+j, map[string]any{"secret": "of " + j}); err != nil {
			t.Fatal(err)
		}
		job := nomadapi.NewServiceJob(j, j, "global", 50)
		job.Datacenters = []string{"dc1"}
		tg := nomadapi.NewTaskGroup("g", 1)
		task := nomadapi.NewTask("t", "raw_exec").SetConfig("command", "/bin/sleep").SetConfig("args", []string{"3600"})
		task.Resources = &nomadapi.Resources{CPU: ptr(20), MemoryMB: ptr(16)}
		task.Vault = &nomadapi.Vault{}
		tg.AddTask(task)
		job.AddTaskGroup(tg)
		if _, _, err := nc.Jobs().Register(job, nil); err != nil {
			t.Fatalf("register %s with the deployer token: %v", j, err)
		}
	}
	tokenOf := func(job string) clients.Secret {
		var tok []byte
		devstacktest.Eventually(t, 2*time.Minute, job+"'s Vault token", func() error {
			allocs, _, err := nc.Jobs().Allocations(job, false, nil)
			if err != nil {
				return err
			}
			for _, a := range allocs {
				if b, err := os.ReadFile(filepath.Join(e.s.AllocDir(a.ID), "t", "secrets", "vault_token")); err == nil && len(b) > 0 {
					tok = b
					return nil
				}
			}
			return fmt.Errorf("no running allocation with a vault_token yet (%d allocations)", len(allocs))
		})
		return clients.Secret(strings.TrimSpace(string(tok)))
	}
	cases := []struct {
		job, path string
		allowed   bool
	}{
		{"pingapp", "database/creds/pingapp", true},
		{"pingapp", "kv/data/hstack/pingapp", true},
		{"pingapp", "kv/data/hstack/other", false},
		{"other", "database/creds/pingapp", false},
		{"other", "kv/data/hstack/other", true},
		{"other", "kv/data/hstack/pingapp", false},
		{"other", "kv/data/hstack-acl/nomad/bootstrap", false},
	}
	toks := map[string]clients.Secret{"pingapp": tokenOf("pingapp"), "other": tokenOf("other")}
	for _, c := range cases {
		_, err := e.vault(t, toks[c.job]).Logical().ReadWithContext(ctx, c.path)
		switch {
		case c.allowed && err != nil:
			t.Errorf("job %s reading %s: %v, want allowed", c.job, c.path, err)
		case !c.allowed && !isDenied(err):
			t.Errorf("job %s reading %s: %v, want permission denied", c.job, c.path, err)
		}
	}
}

func bootstrapOpts(e *secureEnv, fsys fs.FS) bootstrap.Options {
	cfg := e.s.ClientConfig()
	// No management token given: bootstrap finds Nomad and Consul already
	// bootstrapped (by dev up) and takes theirs from Vault KV.
	cfg.Nomad.Token, cfg.Consul.Token = "", ""
	return bootstrap.Options{Policies: fsys, Vault: e.root, Consul: &cfg.Consul, Nomad: &cfg.Nomad, Apps: e.apps}
}

func testBootstrapTwice(t *testing.T, e *secureEnv) {
	ctx := context.Background()
	first, err := bootstrap.Run(ctx, bootstrapOpts(e, policies.FS))
	if err != nil {
		t.Fatal(err)
	}
	// dev up bootstrapped without apps: this run adds their policies.
	if !first.Changed() {
		t.Errorf("first run with apps changed nothing: %+v", first.Changes)
	}
	if len(first.BootstrapTokens) != 0 {
		t.Errorf("a second bootstrap claims to have bootstrapped %v", keys(first.BootstrapTokens))
	}
	second, err := bootstrap.Run(ctx, bootstrapOpts(e, policies.FS))
	if err != nil {
		t.Fatal(err)
	}
	if second.Changed() {
		for _, c := range second.Changes {
			if c.Action != bootstrap.Unchanged {
				t.Errorf("second run changed %+v", c)
			}
		}
	}
	t.Logf("second run: %d objects checked, none changed", len(second.Changes))

	// The tokens work: the deployer lists jobs, the hstack Consul token
	// writes app configuration.
	if _, _, err := e.nomad(t, e.token(t, "nomad/deployer")).Jobs().List(nil); err != nil {
		t.Errorf("deployer token: %v", err)
	}
	if _, err := e.consul(t, e.token(t, "consul/hstack")).KV().Put(&consulapi.KVPair{Key: "hstack/shop/pingapp/v1/greeting", Value: []byte("hi")}, nil); err != nil {
		t.Errorf("hstack consul token: %v", err)
	}

	// An edited policy file is updated; a removed one is reported, not
	// deleted.
	edited := fstest.MapFS{}
	err = fs.WalkDir(policies.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(policies.FS, p)
		edited[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	edited["nomad/readonly.hcl"] = &fstest.MapFile{Data: append(edited["nomad/readonly.hcl"].Data, []byte("\n# reviewed again\n")...)}
	delete(edited, "nomad/autoscaler.hcl")
	third, err := bootstrap.Run(ctx, bootstrapOpts(e, edited))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"nomad/policy/readonly": bootstrap.Updated, "nomad/policy/autoscaler": bootstrap.NotInRepo}
	for _, c := range third.Changes {
		k := c.Product + "/" + c.Kind + "/" + c.Name
		if w, ok := want[k]; ok {
			if c.Action != w {
				t.Errorf("%s: %s, want %s", k, c.Action, w)
			}
			delete(want, k)
		} else if c.Action != bootstrap.Unchanged {
			t.Errorf("edit of one file also changed %+v", c)
		}
	}
	if len(want) > 0 {
		t.Errorf("not reported: %v", want)
	}
	nc := e.nomad(t, e.mgmtN)
	if p, _, err := nc.ACLPolicies().Info("autoscaler", nil); err != nil || p == nil {
		t.Errorf("the removed policy was deleted from Nomad: %v", err)
	}
	// Put the reviewed files back for the table below.
	if _, err := bootstrap.Run(ctx, bootstrapOpts(e, policies.FS)); err != nil {
		t.Fatal(err)
	}
}

// testBootstrapCLI runs the command as an operator would, with the
// stack's dev.env (VAULT_TOKEN root; NOMAD_TOKEN and CONSUL_HTTP_TOKEN are
// not management tokens, so bootstrap takes those from Vault KV).
func testBootstrapCLI(t *testing.T, e *secureEnv) {
	bin := devstacktest.BuildBinary(t, "./cmd/hstack", t.TempDir())
	root, err := devstacktest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for _, kv := range e.s.Env() {
		if kv[0] == "NOMAD_TOKEN" || kv[0] == "CONSUL_HTTP_TOKEN" {
			continue
		}
		env = append(env, kv[0]+"="+kv[1])
	}
	env = append(env, "CONSUL_HTTP_ADDR=https://"+e.s.ConsulAddr())
	run := func() string {
		cmd := exec.Command(bin, "bootstrap", "acl", "--policies", filepath.Join(root, "policies"), "--print-once", "-f", filepath.Join(root, "hstack.hcl"))
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("hstack bootstrap acl: %v\n%s", err, out)
		}
		for what, sec := range map[string]clients.Secret{"nomad": e.mgmtN, "consul": e.mgmtC} {
			if strings.Contains(string(out), sec.Reveal()) {
				t.Errorf("bootstrap acl printed the %s management token on a run that was not the first", what)
			}
		}
		return string(out)
	}
	run()
	out := run()
	if !strings.Contains(out, "Nothing changed") || !strings.Contains(out, "nothing to print, this was not the first bootstrap") {
		t.Errorf("second run does not say it changed nothing:\n%s", out)
	}
}

// testTokensNotOnDisk: the management tokens are in Vault KV and in no file
// of the stack (configs, state, dev.env, logs, certificates) or the
// repository checkout; only the products' own state stores hold them.
func testTokensNotOnDisk(t *testing.T, e *secureEnv) {
	secrets := map[string]string{"nomad bootstrap": e.mgmtN.Reveal(), "consul bootstrap": e.mgmtC.Reveal()}
	root, err := devstacktest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	var files, bytes int
	for _, dir := range []string{e.s.Dir, root} {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // files of running tasks come and go
			}
			if d.IsDir() {
				// Not the products' own state: Nomad keeps its ACL tokens in
				// its Raft store, as every Nomad server does.
				if d.Name() == ".git" || p == filepath.Join(e.s.Dir, devstack.Nomad, "data") || p == filepath.Join(e.s.Dir, devstack.NomadClient, "data") {
					return fs.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			files++
			bytes += len(b)
			for what, sec := range secrets {
				if strings.Contains(string(b), sec) {
					t.Errorf("the %s token is on disk in %s", what, p)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d management tokens looked for in %d files (%d bytes): in Vault KV only", len(secrets), files, bytes)
}

// denied recognises the products' refusals: Nomad and Vault answer 403;
// Consul answers 403 to writes and hides what a token may not read.
var errHidden = errors.New("hidden by Consul (empty result)")

func isDenied(err error) bool {
	return errors.Is(err, errHidden) || (err != nil && clients.Classify(err) == clients.Denied)
}

// row is one line of the table in docs/security.md
// (TestPolicyTableDocumented keeps the two the same).
type row struct {
	product, policy, op string
	want                string // allowed, denied, or "denied (hidden)": Consul's empty answer
	do                  func(t *testing.T) error
}

const (
	allowed = "allowed"
	denied  = "denied"
	hidden  = "denied (hidden)"
)

// tableOps makes the table's operations. Its fields are read only when
// an operation runs, so policyRows also lists the table without a stack.
type tableOps struct {
	e                             *secureEnv
	ctx                           context.Context
	mgmtC                         *consulapi.Client
	nomadTok, consulTok, vaultTok map[string]clients.Secret
}

func tableJob(id string) *nomadapi.Job {
	j := nomadapi.NewServiceJob(id, id, "global", 50)
	j.Datacenters = []string{"dc1"}
	tg := nomadapi.NewTaskGroup("g", 1)
	task := nomadapi.NewTask("t", "raw_exec").SetConfig("command", "/bin/sleep").SetConfig("args", []string{"3600"})
	task.Resources = &nomadapi.Resources{CPU: ptr(20), MemoryMB: ptr(16)}
	tg.AddTask(task)
	j.AddTaskGroup(tg)
	return j
}

func (o *tableOps) register(p string) func(t *testing.T) error {
	return func(t *testing.T) error {
		_, _, err := o.e.nomad(t, o.nomadTok[p]).Jobs().Register(tableJob("table-"+p), nil)
		return err
	}
}

func (o *tableOps) plan(p string) func(t *testing.T) error {
	return func(t *testing.T) error {
		_, _, err := o.e.nomad(t, o.nomadTok[p]).Jobs().Plan(tableJob("table-plan"), true, nil)
		return err
	}
}

func (o *tableOps) listJobs(p string) func(t *testing.T) error {
	return func(t *testing.T) error {
		_, _, err := o.e.nomad(t, o.nomadTok[p]).Jobs().List(nil)
		return err
	}
}

func (o *tableOps) variable(p, path string) func(t *testing.T) error {
	return func(t *testing.T) error {
		_, _, err := o.e.nomad(t, o.nomadTok[p]).Variables().Update(&nomadapi.Variable{Path: path, Items: nomadapi.VariableItems{"k": "v"}}, nil)
		return err
	}
}

func (o *tableOps) nodes(p string) func(t *testing.T) error {
	return func(t *testing.T) error {
		_, _, err := o.e.nomad(t, o.nomadTok[p]).Nodes().List(nil)
		return err
	}
}

func (o *tableOps) mintToken(p string) func(t *testing.T) error {
	return func(t *testing.T) error {
		_, _, err := o.e.nomad(t, o.nomadTok[p]).ACLTokens().Create(&nomadapi.ACLToken{Type: "client", Policies: []string{"operator"}}, nil)
		return err
	}
}

func (o *tableOps) scaling(p string) func(t *testing.T) error {
	return func(t *testing.T) error {
		_, _, err := o.e.nomad(t, o.nomadTok[p]).Scaling().ListPolicies(nil)
		return err
	}
}

func (o *tableOps) kvPut(p, key string) func(t *testing.T) error {
	return func(t *testing.T) error {
		_, err := o.e.consul(t, o.consulTok[p]).KV().Put(&consulapi.KVPair{Key: key, Value: []byte("x")}, nil)
		return err
	}
}

func (o *tableOps) kvGet(p, key string) func(t *testing.T) error {
	return func(t *testing.T) error {
		kv, _, err := o.e.consul(t, o.consulTok[p]).KV().Get(key, nil)
		if err == nil && kv == nil {
			return errHidden
		}
		return err
	}
}

func (o *tableOps) findDB(p string) func(t *testing.T) error {
	return func(t *testing.T) error {
		svcs, _, err := o.e.consul(t, o.consulTok[p]).Catalog().Service("main", "", nil)
		if err == nil && len(svcs) == 0 {
			return errHidden
		}
		return err
	}
}

func (o *tableOps) registerSvc(p, name string) func(t *testing.T) error {
	return func(t *testing.T) error {
		c := o.e.consul(t, o.consulTok[p])
		err := c.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{ID: "table-" + p + "-" + name, Name: name, Port: 1})
		if err == nil {
			_ = o.mgmtC.Agent().ServiceDeregister("table-" + p + "-" + name)
		}
		return err
	}
}

func (o *tableOps) consulACL(p string) func(t *testing.T) error {
	return func(t *testing.T) error {
		_, _, err := o.e.consul(t, o.consulTok[p]).ACL().TokenList(nil)
		return err
	}
}

func (o *tableOps) vread(p, path string) func(t *testing.T) error {
	return func(t *testing.T) error {
		_, err := o.e.vault(t, o.vaultTok[p]).Logical().ReadWithContext(o.ctx, path)
		return err
	}
}

func (o *tableOps) vwrite(p, path string, data map[string]any) func(t *testing.T) error {
	return func(t *testing.T) error {
		_, err := o.e.vault(t, o.vaultTok[p]).Logical().WriteWithContext(o.ctx, path, data)
		return err
	}
}

// workloadCheck runs the deploy pre-flight's check of the tasks' Vault
// login chain (workloadid.Check, JWKS fetched with Nomad's TLS settings) with
// p's token: a problem, or a check the token may not make, is an error.
func (o *tableOps) workloadCheck(p string) func(t *testing.T) error {
	return func(t *testing.T) error {
		hc, err := clients.NomadHTTP(o.e.s.ClientConfig(), 10*time.Second)
		if err != nil {
			return err
		}
		cfg := workloadid.Config{DatabaseMounts: []string{devstack.DatabaseMount}}
		for _, r := range workloadid.Check(o.ctx, o.e.vault(t, o.vaultTok[p]), cfg, hc) {
			if !r.OK {
				return fmt.Errorf("%s: %s", r.Check, r.Detail)
			}
		}
		return nil
	}
}

// policyRows is the allowed/denied table: each row an operation, the
// policy whose token tries it, and the expected outcome.
func policyRows(o *tableOps) []row {
	policy := map[string]any{"policy": `path "kv/data/x" { capabilities = ["read"] }`}
	return []row{
		{"nomad", "anonymous", "list jobs", denied, o.listJobs("anonymous")},
		{"nomad", "deployer", "register a job", allowed, o.register("deployer")},
		{"nomad", "deployer", "plan a job", allowed, o.plan("deployer")},
		{"nomad", "deployer", "list jobs", allowed, o.listJobs("deployer")},
		{"nomad", "deployer", "write Variable `hstack/releases/<job>`", allowed, o.variable("deployer", "hstack/releases/table")},
		{"nomad", "deployer", "write Variable `hstack/gate/<job>`", allowed, o.variable("deployer", "hstack/gate/table")},
		{"nomad", "deployer", "write Variable `nomad/jobs/<job>` (an app's own)", denied, o.variable("deployer", "nomad/jobs/table")},
		{"nomad", "deployer", "list nodes", denied, o.nodes("deployer")},
		{"nomad", "deployer", "create an ACL token", denied, o.mintToken("deployer")},
		{"nomad", "readonly", "list jobs", allowed, o.listJobs("readonly")},
		{"nomad", "readonly", "list nodes", allowed, o.nodes("readonly")},
		{"nomad", "readonly", "register a job", denied, o.register("readonly")},
		{"nomad", "readonly", "plan a job", denied, o.plan("readonly")},
		{"nomad", "readonly", "write Variable `hstack/releases/<job>`", denied, o.variable("readonly", "hstack/releases/table")},
		{"nomad", "autoscaler", "list scaling policies", allowed, o.scaling("autoscaler")},
		{"nomad", "autoscaler", "register a job", denied, o.register("autoscaler")},
		{"nomad", "operator", "list nodes", allowed, o.nodes("operator")},
		{"nomad", "operator", "register a job", allowed, o.register("operator")},
		{"nomad", "operator", "create an ACL token", denied, o.mintToken("operator")},

		{"consul", "anonymous", "find the database service", hidden, o.findDB("anonymous")},
		{"consul", "hstack", "write KV `hstack/shop/pingapp/v1/x`", allowed, o.kvPut("hstack", "hstack/shop/pingapp/v1/x")},
		{"consul", "hstack", "write KV outside `hstack/`", denied, o.kvPut("hstack", "other/x")},
		{"consul", "hstack", "register an external service (database)", allowed, o.registerSvc("hstack", "reports-db")},
		{"consul", "hstack", "list ACL tokens", denied, o.consulACL("hstack")},
		{"consul", "nomad-server", "register service `nomad`", allowed, o.registerSvc("nomad-server", "nomad")},
		{"consul", "nomad-server", "register an app's service", denied, o.registerSvc("nomad-server", "web")},
		{"consul", "nomad-server", "write KV `hstack/`", denied, o.kvPut("nomad-server", "hstack/x")},
		{"consul", "nomad-client", "register an app's service", allowed, o.registerSvc("nomad-client", "web")},
		{"consul", "nomad-client", "read KV `hstack/shop/pingapp/v1/x`", allowed, o.kvGet("nomad-client", "hstack/shop/pingapp/v1/x")},
		{"consul", "nomad-client", "write KV `hstack/`", denied, o.kvPut("nomad-client", "hstack/x")},
		{"consul", "prometheus", "find the database service", allowed, o.findDB("prometheus")},
		{"consul", "prometheus", "register a service", denied, o.registerSvc("prometheus", "web")},
		{"consul", "prometheus", "read KV `hstack/`", denied, o.kvGet("prometheus", "hstack/shop/pingapp/v1/x")},
		{"consul", "ingress", "find the database service", allowed, o.findDB("ingress")},
		{"consul", "ingress", "write KV `hstack/`", denied, o.kvPut("ingress", "hstack/x")},
		{"consul", "dns", "find the database service", allowed, o.findDB("dns")},
		{"consul", "dns", "read KV `hstack/`", denied, o.kvGet("dns", "hstack/shop/pingapp/v1/x")},
		{"consul", "app-pingapp", "find its database service `main`", allowed, o.findDB("app-pingapp")},
		{"consul", "app-pingapp", "read its KV `hstack/shop/pingapp/`", allowed, o.kvGet("app-pingapp", "hstack/shop/pingapp/v1/x")},
		{"consul", "app-web", "find database `main` (not its database)", hidden, o.findDB("app-web")},
		{"consul", "app-web", "read pingapp's KV", denied, o.kvGet("app-web", "hstack/shop/pingapp/v1/x")},

		{"vault", "hstack-admin", "write a policy", allowed, o.vwrite("hstack-admin", "sys/policies/acl/table", policy)},
		{"vault", "hstack-admin", "read the database connection", allowed, o.vread("hstack-admin", "database/config/"+devstack.DatabaseConnection)},
		{"vault", "hstack-admin", "list audit devices", denied, o.vread("hstack-admin", "sys/audit")},
		{"vault", "ci-deployer", "read the Nomad deployer token", allowed, o.vread("ci-deployer", "kv/data/hstack-acl/nomad/deployer")},
		{"vault", "ci-deployer", "read the Nomad bootstrap token", denied, o.vread("ci-deployer", "kv/data/hstack-acl/nomad/bootstrap")},
		{"vault", "ci-deployer", "check the tasks' credential chain (deploy pre-flight)", allowed, o.workloadCheck("ci-deployer")},
		{"vault", "ci-deployer", "issue database credentials", denied, o.vread("ci-deployer", "database/creds/pingapp")},
		{"vault", "ci-deployer", "write a policy", denied, o.vwrite("ci-deployer", "sys/policies/acl/table", policy)},
		{"vault", "operator-db", "issue database credentials", allowed, o.vread("operator-db", "database/creds/pingapp")},
		{"vault", "operator-db", "read the Nomad deployer token", denied, o.vread("operator-db", "kv/data/hstack-acl/nomad/deployer")},
		{"vault", "operator-db", "change a database role", denied, o.vwrite("operator-db", "database/roles/pingapp", map[string]any{"db_name": "x"})},
	}
}

func testPolicyTable(t *testing.T, e *secureEnv) {
	o := &tableOps{e: e, ctx: context.Background(), mgmtC: e.consul(t, e.mgmtC)}
	// The database the apps look up, registered as `hstack services sync`
	// does, with the hstack token.
	if err := e.consul(t, e.token(t, "consul/hstack")).Agent().ServiceRegister(&consulapi.AgentServiceRegistration{
		ID: "hstack-shop-main", Name: "main", Address: "127.0.0.1", Port: e.s.Ports.Postgres,
	}); err != nil {
		t.Fatalf("register the database with the hstack token: %v", err)
	}
	appToken := func(role string) clients.Secret {
		tok, _, err := o.mgmtC.ACL().TokenCreate(&consulapi.ACLToken{Roles: []*consulapi.ACLTokenRoleLink{{Name: role}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return clients.Secret(tok.SecretID)
	}
	o.nomadTok = map[string]clients.Secret{"anonymous": ""}
	for _, p := range []string{"operator", "deployer", "readonly", "autoscaler"} {
		o.nomadTok[p] = e.token(t, "nomad/"+p)
	}
	o.consulTok = map[string]clients.Secret{"anonymous": "", "app-pingapp": appToken("app-pingapp"), "app-web": appToken("app-web")}
	for _, p := range []string{"nomad-server", "nomad-client", "hstack", "prometheus", "ingress", "dns"} {
		o.consulTok[p] = e.token(t, "consul/"+p)
	}
	o.vaultTok = map[string]clients.Secret{}
	for _, p := range []string{"hstack-admin", "ci-deployer", "operator-db"} {
		o.vaultTok[p] = e.token(t, "vault/"+p)
	}

	rows := policyRows(o)
	// Consul's catalog and Nomad's ACL cache take a moment to see new
	// registrations; a row that gets the expected answer once is done.
	for _, r := range rows {
		name := fmt.Sprintf("%s/%s/%s", r.product, r.policy, strings.ReplaceAll(r.op, "`", ""))
		t.Run(name, func(t *testing.T) {
			deadline := time.Now().Add(10 * time.Second)
			for {
				err := r.do(t)
				var ok bool
				switch r.want {
				case allowed:
					ok = err == nil
				case hidden:
					ok = errors.Is(err, errHidden)
				default:
					ok = isDenied(err)
				}
				if ok {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("want %s, got %v", r.want, err)
				}
				time.Sleep(250 * time.Millisecond)
			}
		})
	}
	t.Logf("%d rows checked against the real servers", len(rows))
}

func testTLS(t *testing.T, e *secureEnv) {
	cfg := e.s.ClientConfig()
	// Without the CA: refused, with the variable to set.
	noCA := cfg
	noCA.Nomad.TLS.CACert = ""
	nc, err := clients.Nomad(noCA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Status().Leader(); err == nil || !strings.Contains(clients.Explain(err).Error(), "NOMAD_CACERT") {
		t.Errorf("nomad without the CA: %v", clients.Explain(err))
	}
	// Plaintext to the TLS port.
	plain := cfg
	plain.Nomad.Address = strings.Replace(cfg.Nomad.Address, "https://", "http://", 1)
	if nc, err = clients.Nomad(plain); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Status().Leader(); err == nil || !strings.Contains(clients.Explain(err).Error(), "set NOMAD_ADDR to https://") {
		t.Errorf("nomad over plain HTTP: %v", clients.Explain(err))
	}
	// Consul verifies client certificates (verify_incoming).
	noCert := cfg
	noCert.Consul.TLS.ClientCert, noCert.Consul.TLS.ClientKey = "", ""
	cc, err := clients.Consul(noCert)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cc.Status().Leader(); err == nil || !strings.Contains(clients.Explain(err).Error(), "CONSUL_CLIENT_CERT") {
		t.Errorf("consul without a client certificate: %v", clients.Explain(err))
	}
	noCA = cfg
	noCA.Vault.TLS.CACert = ""
	vc, err := clients.Vault(noCA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vc.Sys().Health(); err == nil || !strings.Contains(clients.Explain(err).Error(), "VAULT_CACERT") {
		t.Errorf("vault without the CA: %v", clients.Explain(err))
	}
	// With everything: each answers.
	if nc, err = clients.Nomad(cfg); err == nil {
		_, err = nc.Status().Leader()
	}
	if err != nil {
		t.Errorf("nomad with the CA: %v", err)
	}
	if cc, err = clients.Consul(cfg); err == nil {
		_, err = cc.Status().Leader()
	}
	if err != nil {
		t.Errorf("consul with CA and client certificate: %v", err)
	}
	if vc, err = clients.Vault(cfg); err == nil {
		_, err = vc.Sys().Health()
	}
	if err != nil {
		t.Errorf("vault with the CA: %v", err)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func ptr[T any](v T) *T { return &v }
