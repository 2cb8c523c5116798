package rollout

import (
	"slices"
	"strings"
	"testing"

	nomadapi "github.com/hashicorp/nomad/api"
)

// TestCanaryGroupReadsWell: the <group>-canary group of a stepped release
// says on its own page in the Nomad UI whose canaries it holds and of which
// version, and its instances carry the canary tag in Consul.
func TestCanaryGroupReadsWell(t *testing.T) {
	job := func(version string) *nomadapi.Job {
		name, count := "pingapp", 3
		return &nomadapi.Job{
			ID: &name, Name: &name, Meta: map[string]string{"version": version},
			TaskGroups: []*nomadapi.TaskGroup{{
				Name: &name, Count: &count,
				Services: []*nomadapi.Service{{Name: "pingapp", Tags: []string{"web"}, CanaryTags: []string{"web"}}},
			}},
		}
	}
	out, err := withCanaryGroup(job("1.0.0"), job("1.0.1"), "pingapp", 1)
	if err != nil {
		t.Fatal(err)
	}
	cg, sg := findGroup(out, "pingapp-canary"), findGroup(out, "pingapp")
	if cg == nil || sg == nil {
		t.Fatalf("groups %v", out.TaskGroups)
	}
	if cg.Meta["hstack_canary_of"] != "pingapp" || cg.Meta["version"] != "1.0.1" ||
		!strings.Contains(cg.Meta["hstack_role"], "canaries of pingapp's next version") {
		t.Errorf("canary group meta %v does not say what it is", cg.Meta)
	}
	if len(sg.Meta) != 0 {
		t.Errorf("the stable group changed: meta %v", sg.Meta)
	}
	if !slices.Contains(cg.Services[0].Tags, "canary") {
		t.Errorf("canary instances tagged %v, want canary among them", cg.Services[0].Tags)
	}
}
