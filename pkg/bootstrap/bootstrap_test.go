package bootstrap

import (
	"strings"
	"testing"

	"github.com/hstack-dev/hstack/policies"
)

func TestAppPolicyTemplate(t *testing.T) {
	pols, err := LoadPolicies(policies.FS, "consul")
	if err != nil {
		t.Fatal(err)
	}
	var tmpl string
	for _, p := range pols {
		if p.Name == appTemplate {
			tmpl = p.Rules
		}
	}
	got := appPolicy(tmpl, App{Job: "pingapp", DatabaseService: "main", KVPrefix: "hstack/shop/pingapp/"})
	for _, want := range []string{`service "main" {`, `key_prefix "hstack/shop/pingapp/" {`} {
		if !strings.Contains(got, want) {
			t.Errorf("policy lacks %s:\n%s", want, got)
		}
	}
	noDB := appPolicy(tmpl, App{Job: "web", KVPrefix: "hstack/shop/web/"})
	if strings.Contains(noDB, "\nservice \"") || strings.Contains(noDB, "DATABASE_SERVICE") {
		t.Errorf("an app without a database may read a service:\n%s", noDB)
	}
}

func TestEveryPolicyHasAHeader(t *testing.T) {
	for _, product := range []string{"nomad", "consul", "vault"} {
		pols, err := LoadPolicies(policies.FS, product)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pols {
			if !strings.HasPrefix(p.Rules, "# ") || !strings.Contains(p.Rules, "Held by") && product != "vault" {
				t.Errorf("%s/%s.hcl: no header comment saying who holds it", product, p.Name)
			}
		}
	}
}

func TestChanged(t *testing.T) {
	r := &Result{Changes: []Change{{Action: Unchanged}, {Action: NotInRepo}, {Action: Adopted}}}
	if r.Changed() {
		t.Error("unchanged, reported and adopted objects count as changes")
	}
	r.add(Change{Action: Updated})
	if !r.Changed() {
		t.Error("an update is not a change")
	}
}
