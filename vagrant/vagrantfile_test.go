// Package vagrant holds the tests of the repository's Vagrantfile: Debian's
// `vagrant validate --ignore-provider` (no hypervisor), a Ruby-level load
// with a stub Vagrant.configure that checks the machines, addresses,
// providers and provisioner arguments, and the real agents' validation of
// the configs those arguments render. No VM is booted.
package vagrant

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hstack-dev/hstack/pkg/devstack"
	"github.com/hstack-dev/hstack/pkg/provision"
	"github.com/hstack-dev/hstack/pkg/testenv"
	"github.com/hstack-dev/hstack/pkg/tools"
)

const repo = ".."

// stage copies the Vagrantfile into a fresh directory beside what it
// refers to, so loading it (which makes vagrant/.secrets/nodes/*) and
// `vagrant validate` (which makes .vagrant/) leave the checkout alone.
func stage(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	vf, err := os.ReadFile(filepath.Join(repo, "Vagrantfile"))
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(repo)
	for _, p := range []string{"vagrant", "pkg"} {
		if err := os.MkdirAll(filepath.Join(d, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []string{"scripts", "pkg/tools"} {
		if err := os.Symlink(filepath.Join(abs, l), filepath.Join(d, l)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(d, "Vagrantfile"), vf, 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

func need(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		testenv.Missing(t, tool+" is not installed (Debian package vagrant, which brings ruby; scripts/deps.sh)")
	}
	return p
}

// hstackEnv is the environment without the caller's HSTACK_* settings.
func hstackEnv(dir string, set map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HSTACK_") && !strings.HasPrefix(kv, "VAGRANT_") {
			env = append(env, kv)
		}
	}
	env = append(env, "VAGRANT_HOME="+filepath.Join(dir, ".vagrant.d"), "VAGRANT_CHECKPOINT_DISABLE=1",
		"VAGRANT_DEFAULT_PROVIDER=")
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env
}

func runIn(t *testing.T, dir string, env map[string]string, name string, args ...string) (string, error) {
	t.Helper()
	// Generous: vagrant loads every plugin it has, on a loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = hstackEnv(dir, env)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func TestVagrantValidate(t *testing.T) {
	vagrant := need(t, "vagrant")
	d := stage(t)
	out, err := runIn(t, d, map[string]string{"HSTACK_CLIENTS": "3"}, vagrant, "validate", "--ignore-provider")
	if err != nil || !strings.Contains(out, "Vagrantfile validated successfully") {
		t.Fatalf("vagrant validate --ignore-provider: %v\n%s", err, out)
	}
	for _, m := range []string{"server-1", "server-2", "server-3", "client-1", "client-3"} {
		if !strings.Contains(out, "==> "+m+":") {
			t.Errorf("vagrant validate did not see machine %s:\n%s", m, out)
		}
	}
	out, err = runIn(t, d, map[string]string{"HSTACK_CLIENTS": "0"}, vagrant, "validate", "--ignore-provider")
	if err == nil || !strings.Contains(out, `HSTACK_CLIENTS="0": want a whole number from 1 to 40`) {
		t.Errorf("HSTACK_CLIENTS=0: %v\n%s", err, out)
	}
}

// loaded is what testdata/load.rb prints.
type loaded struct {
	Box           string `json:"box"`
	SyncedFolders []struct {
		Args []string       `json:"args"`
		Opts map[string]any `json:"opts"`
	} `json:"synced_folders"`
	Triggers []struct {
		When string   `json:"when"`
		On   []string `json:"on"`
		Name string   `json:"name"`
		Ruby bool     `json:"ruby"`
	} `json:"triggers"`
	Certs    []string `json:"certs"`
	Machines []struct {
		Name     string `json:"name"`
		Hostname string `json:"hostname"`
		Networks []struct {
			Type string         `json:"type"`
			Opts map[string]any `json:"opts"`
		} `json:"networks"`
		Providers    map[string]map[string]any `json:"providers"`
		Provisioners []provisioner             `json:"provisioners"`
	} `json:"machines"`
}

type provisioner struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	Inline      string   `json:"inline"`
	Args        []string `json:"args"`
	Source      string   `json:"source"`
	Destination string   `json:"destination"`
	Privileged  *bool    `json:"privileged"`
}

func load(t *testing.T, d string, env map[string]string) (loaded, string, error) {
	t.Helper()
	ruby := need(t, "ruby")
	script, _ := filepath.Abs("testdata/load.rb")
	out, err := runIn(t, d, env, ruby, script, filepath.Join(d, "Vagrantfile"))
	var l loaded
	if err == nil {
		if jerr := json.Unmarshal([]byte(out), &l); jerr != nil {
			t.Fatalf("load.rb printed no JSON: %v\n%s", jerr, out)
		}
	}
	return l, out, err
}

// flags turns provisioner arguments into flag -> value ("" for a switch).
func flags(t *testing.T, args []string) map[string]string {
	t.Helper()
	switches := map[string]bool{"--enable": true, "--colocated": true, "--raw-exec": true, "--skip-packages": true}
	m := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			t.Fatalf("argument %q is not a flag: %q", a, args)
		}
		if _, dup := m[a]; dup {
			t.Fatalf("%s given twice: %q", a, args)
		}
		if switches[a] {
			m[a] = ""
			continue
		}
		if i+1 >= len(args) {
			t.Fatalf("%s has no value: %q", a, args)
		}
		m[a] = args[i+1]
		i++
	}
	return m
}

type node struct {
	name, ip, zone string
	server         bool
}

func expectedNodes(clients int) []node {
	nodes := []node{{"server-1", "192.168.56.11", "", true}, {"server-2", "192.168.56.12", "", true}, {"server-3", "192.168.56.13", "", true}}
	for i := 1; i <= clients; i++ {
		nodes = append(nodes, node{fmt.Sprintf("client-%d", i), fmt.Sprintf("192.168.56.%d", 20+i), []string{"zone-a", "zone-b", "zone-c"}[(i-1)%3], false})
	}
	return nodes
}

func TestVagrantfileMachines(t *testing.T) {
	for _, tc := range []struct {
		clients                   int
		env                       map[string]string
		serverMem, clientMem, cpu float64
	}{
		{1, map[string]string{"HSTACK_CLIENTS": "1"}, 2048, 2048, 2},
		{2, nil, 2048, 2048, 2}, // the default
		{5, map[string]string{"HSTACK_CLIENTS": "5", "HSTACK_SERVER_MEMORY": "3072", "HSTACK_CLIENT_MEMORY": "1536", "HSTACK_CPUS": "3"}, 3072, 1536, 3},
	} {
		t.Run(fmt.Sprint("clients=", tc.clients), func(t *testing.T) {
			d := stage(t)
			l, out, err := load(t, d, tc.env)
			if err != nil {
				t.Fatalf("load.rb: %v\n%s", err, out)
			}
			checkMachines(t, d, l, tc.clients, tc.serverMem, tc.clientMem, tc.cpu)
			if tc.clients == 2 {
				renderAndValidate(t, l)
			}
		})
	}
}

func checkMachines(t *testing.T, d string, l loaded, clients int, serverMem, clientMem, cpus float64) {
	t.Helper()
	want := expectedNodes(clients)
	if l.Box != "debian/bookworm64" {
		t.Errorf("box %q", l.Box)
	}
	if len(l.SyncedFolders) != 1 || l.SyncedFolders[0].Opts["disabled"] != true {
		t.Errorf("the default synced folder is not disabled: %+v", l.SyncedFolders)
	}
	if len(l.Triggers) != 1 || l.Triggers[0].When != "before" || !reflect.DeepEqual(l.Triggers[0].On, []string{"up", "provision", "reload"}) || !l.Triggers[0].Ruby {
		t.Errorf("triggers: %+v", l.Triggers)
	}
	wantCerts := []string{"hstack", "dev", "certs", "--out", filepath.Join(d, "vagrant", ".secrets")}
	for _, n := range want {
		role := "--client"
		if n.server {
			role = "--server"
		}
		wantCerts = append(wantCerts, role, n.name+"="+n.ip)
	}
	if !reflect.DeepEqual(l.Certs, wantCerts) {
		t.Errorf("certs command:\n got %q\nwant %q", l.Certs, wantCerts)
	}
	if len(l.Machines) != len(want) {
		t.Fatalf("%d machines, want %d", len(l.Machines), len(want))
	}
	for i, n := range want {
		m := l.Machines[i]
		if m.Name != n.name || m.Hostname != n.name {
			t.Errorf("machine %d: %s (hostname %s), want %s", i, m.Name, m.Hostname, n.name)
		}
		if len(m.Networks) != 1 || m.Networks[0].Type != "private_network" || m.Networks[0].Opts["ip"] != n.ip {
			t.Errorf("%s networks %+v, want private_network %s", n.name, m.Networks, n.ip)
		}
		mem := clientMem
		if n.server {
			mem = serverMem
		}
		for _, p := range []string{"virtualbox", "libvirt"} {
			got := m.Providers[p]
			if got == nil || got["memory"] != mem || got["cpus"] != cpus {
				t.Errorf("%s provider %s: %v, want memory %v cpus %v", n.name, p, got, mem, cpus)
			}
		}
		var names []string
		for _, p := range m.Provisioners {
			names = append(names, p.Name)
		}
		wantNames := []string{"stage", "scripts", "versions", "node-files", "client", "unstage"}
		if n.server {
			wantNames = []string{"stage", "scripts", "versions", "node-files", "server", "vault", "unstage"}
		}
		if !reflect.DeepEqual(names, wantNames) {
			t.Errorf("%s provisioners %q, want %q", n.name, names, wantNames)
		}
		for _, p := range m.Provisioners {
			switch p.Type {
			case "file":
				src := p.Source
				if !filepath.IsAbs(src) {
					src = filepath.Join(d, src)
				}
				if _, err := os.Stat(src); err != nil {
					t.Errorf("%s %s: source %v", n.name, p.Name, err)
				}
				if p.Name == "node-files" && src != devstack.NodeDir(filepath.Join(d, "vagrant", ".secrets"), n.name) {
					t.Errorf("%s uploads %s, not its own node directory", n.name, src)
				}
			case "shell":
				if p.Args != nil {
					checkRoleArgs(t, n, p, want)
				}
			default:
				t.Errorf("%s %s: provisioner type %q", n.name, p.Name, p.Type)
			}
		}
	}
}

func checkRoleArgs(t *testing.T, n node, p provisioner, all []node) {
	t.Helper()
	if want := `exec bash /tmp/hstack/provision/` + p.Name + `.sh "$@"`; p.Inline != want {
		t.Errorf("%s %s: inline %q, want %q", n.name, p.Name, p.Inline, want)
	}
	if p.Privileged != nil && !*p.Privileged {
		t.Errorf("%s %s runs unprivileged", n.name, p.Name)
	}
	f := flags(t, p.Args)
	want := map[string]string{
		"--source": "https://releases.hashicorp.com", "--gpg-key": "/tmp/hstack/node/hashicorp.asc",
		"--mode": "prod", "--join": "static", "--servers": "192.168.56.11,192.168.56.12,192.168.56.13",
		"--bind": n.ip, "--client-addr": n.ip, "--node-name": n.name,
		"--tls-dir": "/tmp/hstack/node/tls", "--gossip-key-file": "/tmp/hstack/node/gossip.key", "--enable": "",
	}
	switch p.Name {
	case "server":
		want["--bootstrap-expect"] = "3"
		want["--nomad-gossip-key-file"] = "/tmp/hstack/node/nomad-gossip.key"
	case "vault":
		want["--bootstrap-expect"] = "3"
		want["--colocated"] = ""
		var peers []string
		for _, o := range all {
			if o.server && o.name != n.name {
				peers = append(peers, "https://"+o.ip+":8200")
			}
		}
		want["--vault-peers"] = strings.Join(peers, ",")
	case "client":
		want["--zone"] = n.zone
	}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("%s %s.sh arguments:\n got %v\nwant %v", n.name, p.Name, f, want)
	}
}

// renderAndValidate renders every node with the Vagrantfile's own
// arguments into a directory (configure phase, no packages, no systemd),
// with the secrets `hstack dev certs` would issue for the Vagrantfile's
// nodes, and has the real Consul and Nomad validate the result.
func renderAndValidate(t *testing.T, l loaded) {
	t.Helper()
	consul, err := tools.Find("consul")
	if err != nil {
		testenv.Missing(t, err.Error())
	}
	nomad, err := tools.Find("nomad")
	if err != nil {
		testenv.Missing(t, err.Error())
	}
	var nodes []devstack.Node
	for i := 5; i+1 < len(l.Certs); i += 2 {
		name, ip, _ := strings.Cut(l.Certs[i+1], "=")
		nodes = append(nodes, devstack.Node{Name: name, Address: ip, Server: l.Certs[i] == "--server", Client: l.Certs[i] == "--client"})
	}
	secrets := filepath.Join(t.TempDir(), "secrets")
	if _, err := devstack.WriteClusterSecrets(secrets, nodes); err != nil {
		t.Fatal(err)
	}
	roots := t.TempDir()
	for _, m := range l.Machines {
		root := filepath.Join(roots, m.Name)
		for _, p := range m.Provisioners {
			if p.Args == nil {
				continue
			}
			args := []string{"--phase", "configure", "--root", root, "--skip-packages"}
			for i := 0; i < len(p.Args); i++ {
				switch a := p.Args[i]; a {
				case "--source", "--gpg-key":
					i++
				case "--enable":
				default:
					args = append(args, strings.ReplaceAll(a, "/tmp/hstack/node", devstack.NodeDir(secrets, m.Name)))
				}
			}
			cmd := exec.Command(filepath.Join(repo, "scripts", "provision", p.Name+".sh"), args...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %s.sh %q: %v\n%s", m.Name, p.Name, args, err, out)
			}
		}
		for _, v := range [][]string{{consul, "validate", provision.ConfigDir(root, "consul")}, {nomad, "config", "validate", provision.ConfigDir(root, "nomad")}} {
			cmd := exec.Command(v[0], v[1:]...)
			cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s: %s: %v\n%s", m.Name, strings.Join(v, " "), err, out)
			}
		}
		hcl, _ := os.ReadFile(filepath.Join(provision.ConfigDir(root, "consul"), "consul.hcl"))
		isServer := strings.HasPrefix(m.Name, "server-")
		if strings.Contains(string(hcl), "server           = true") != isServer {
			t.Errorf("%s: consul.hcl server = %v, want %v", m.Name, !isServer, isServer)
		}
		if _, err := os.Stat(filepath.Join(provision.ConfigDir(root, "vault"), "vault.hcl")); (err == nil) != isServer {
			t.Errorf("%s: vault.hcl present = %v, want %v", m.Name, err == nil, isServer)
		}
	}
}

// Bad settings stop `vagrant` before anything runs, naming the variable.
func TestVagrantfileRefusesBadSettings(t *testing.T) {
	d := stage(t)
	for env, want := range map[string]string{
		"HSTACK_CLIENTS":       `HSTACK_CLIENTS="x": want a whole number from 1 to 40`,
		"HSTACK_CPUS":          `HSTACK_CPUS="x": want a whole number from 1 to 64`,
		"HSTACK_SERVER_MEMORY": `HSTACK_SERVER_MEMORY="x": want a whole number`,
		"HSTACK_SUBNET":        `HSTACK_SUBNET="x": want the first three octets`,
	} {
		_, out, err := load(t, d, map[string]string{env: "x"})
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("%s=x: %v\n%s", env, err, out)
		}
	}
}

// The trigger runs with the real Vagrant and no hypervisor: `vagrant
// provision` on machines that were never created fires it before saying
// so. It runs hstack dev certs once per run, gives every node its own
// directory with HashiCorp's key beside the secrets, never prints a
// secret, and a later run with more clients issues only the new ones.
func TestVagrantTriggerIssuesSecrets(t *testing.T) {
	vagrant := need(t, "vagrant")
	d := stage(t)
	bin := filepath.Join(t.TempDir(), "hstack")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/hstack").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	key := filepath.Join(d, "hashicorp.asc")
	if err := os.WriteFile(key, []byte("HashiCorp's public key stands here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"HSTACK_BIN": bin, "HSTACK_GPG_KEY": key, "HSTACK_CLIENTS": "2"}
	out, _ := runIn(t, d, env, vagrant, "provision")
	secrets := filepath.Join(d, "vagrant", ".secrets")
	if n := strings.Count(out, "issued server-1 server-2 server-3 client-1 client-2"); n != 1 {
		t.Fatalf("hstack dev certs issued %d times, want once:\n%s", n, out)
	}
	for _, n := range expectedNodes(2) {
		for _, f := range []string{"tls/ca.pem", "tls/consul.pem", "tls/nomad-key.pem", "gossip.key", "hashicorp.asc"} {
			if _, err := os.Stat(filepath.Join(devstack.NodeDir(secrets, n.name), f)); err != nil {
				t.Errorf("%s: %v", n.name, err)
			}
		}
	}
	for _, f := range []string{"gossip.key", "nomad-gossip.key"} {
		k, _ := os.ReadFile(filepath.Join(secrets, f))
		if len(strings.TrimSpace(string(k))) < 40 || strings.Contains(out, strings.TrimSpace(string(k))) {
			t.Errorf("%s missing or printed:\n%s", f, out)
		}
	}
	env["HSTACK_CLIENTS"] = "3"
	out, _ = runIn(t, d, env, vagrant, "provision")
	if !strings.Contains(out, "issued client-3;") {
		t.Errorf("a third client: want only client-3 issued:\n%s", out)
	}
	env["HSTACK_GPG_KEY"] = filepath.Join(d, "missing.asc")
	out, err := runIn(t, d, env, vagrant, "provision", "server-1")
	if err == nil || !strings.Contains(out, "missing.asc not found: set HSTACK_GPG_KEY to HashiCorp's public key") {
		t.Errorf("no GPG key: %v\n%s", err, out)
	}
}
