// Package nomadui builds links into Nomad's web UI, so that what hstack
// prints (the live view of a deploy, status, notifications) opens the page a
// person wants: the job, its deployments, a version, an allocation.
//
// The paths are the UI's own routes (ui/app/router.js in Nomad): a job is
// /ui/jobs/<id>@<namespace>, and the UI has no page per deployment, so a
// deployment links to its job's deployments page, where it is listed.
package nomadui

import (
	"fmt"
	"net/url"
	"strings"
)

// Links makes URLs for one Nomad UI and namespace. The zero value makes no
// links ("" from every method).
type Links struct {
	base      string // scheme://host[:port][/prefix], no trailing slash, no /ui
	namespace string
}

// New returns links for the UI at addr: a Nomad agent's API address (the UI
// is served under /ui/ on the same listener) or the address of a UI behind a
// proxy, with or without the /ui suffix. An empty addr gives no links, an
// empty namespace means "default".
func New(addr, namespace string) (Links, error) {
	if addr == "" {
		return Links{}, nil
	}
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Links{}, fmt.Errorf("nomad UI address %q is not an http(s) URL", addr)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return Links{}, fmt.Errorf("nomad UI address %q: want scheme://host[:port][/path], without query or fragment", addr)
	}
	p := strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/ui")
	if namespace == "" {
		namespace = "default"
	}
	return Links{base: u.Scheme + "://" + u.Host + p, namespace: namespace}, nil
}

// Base is the UI's address, e.g. http://127.0.0.1:4646/ui/.
func (l Links) Base() string { return l.url() + "/" }

// Job is the job's overview: its active deployment, with the canaries and
// the "Promote Canary" button, and its meta.
func (l Links) Job(job string) string {
	if l.base == "" || job == "" {
		return ""
	}
	// url.PathEscape leaves "@" alone; a job ID may itself contain "@",
	// which the UI resolves by the last one, so the namespace still wins.
	return l.url() + "/jobs/" + url.PathEscape(job) + "@" + url.PathEscape(l.namespace)
}

// Deployments lists the job's deployments, newest first.
func (l Links) Deployments(job string) string { return l.jobPage(job, "deployments") }

// Deployment is where a deployment of job is shown: the UI has no page of
// its own per deployment, so it is the job's deployments page.
func (l Links) Deployment(job, deploymentID string) string {
	if deploymentID == "" {
		return ""
	}
	return l.Deployments(job)
}

// Versions lists the job's versions with their tags and diffs.
func (l Links) Versions(job string) string { return l.jobPage(job, "versions") }

// TaskGroup is one task group of the job, e.g. a stepped release's
// <group>-canary.
func (l Links) TaskGroup(job, group string) string {
	if group == "" {
		return ""
	}
	return l.jobPage(job, url.PathEscape(group))
}

// Services lists the job's services with their tags.
func (l Links) Services(job string) string { return l.jobPage(job, "services") }

// Allocation is one allocation's page: its task states, events and logs.
func (l Links) Allocation(allocID string) string {
	if l.base == "" || allocID == "" {
		return ""
	}
	return l.url() + "/allocations/" + url.PathEscape(allocID)
}

func (l Links) url() string { return l.base + "/ui" }

func (l Links) jobPage(job, page string) string {
	j := l.Job(job)
	if j == "" {
		return ""
	}
	return j + "/" + page
}
