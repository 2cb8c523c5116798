package render

import (
	"strings"
	"testing"

	"github.com/hstack-dev/hstack/pkg/appconfig"
)

func configApp(config string) string {
	return `
stack "shop" {}
app "web" {
  driver  = "raw_exec"
  command = "/bin/web"
  port "http" {}
` + config + `
}
`
}

func TestConfigTemplate(t *testing.T) {
	render := func(config string) (meta map[string]string, env map[string]string, tmpl string) {
		t.Helper()
		j := jobNamed(t, mustRender(t, parseStack(t, configApp(config)), Options{}), "web").Job
		task := j.TaskGroups[0].Tasks[0]
		for _, tp := range task.Templates {
			if *tp.DestPath == "local/"+appconfig.File {
				if *tp.ChangeMode != "noop" {
					t.Errorf("change_mode = %q: a KV edit must not restart or signal running allocations", *tp.ChangeMode)
				}
				tmpl = *tp.EmbeddedTmpl
			}
		}
		return j.Meta, task.Env, tmpl
	}

	meta, env, tmpl := render("")
	if tmpl != "" || meta[appconfig.MetaKey] != "" || env[appconfig.FileEnv] != "" {
		t.Errorf("an app without config got a config template %q, meta %v, env %v", tmpl, meta, env)
	}

	meta, env, tmpl = render(`config = { greeting = "hi" }`)
	v1 := appconfig.Checksum(map[string]string{"greeting": "hi"})
	if meta[appconfig.MetaKey] != v1 {
		t.Errorf("job meta %s = %q, want %q", appconfig.MetaKey, meta[appconfig.MetaKey], v1)
	}
	if env[appconfig.FileEnv] != "${NOMAD_TASK_DIR}/config.json" {
		t.Errorf("env %s = %q", appconfig.FileEnv, env[appconfig.FileEnv])
	}
	if !strings.Contains(tmpl, `key "hstack/shop/web/`+v1+`/greeting"`) {
		t.Errorf("template does not read the versioned key:\n%s", tmpl)
	}

	// A config change is a change of the job: new meta, new template.
	meta2, _, tmpl2 := render(`config = { greeting = "hello" }`)
	if meta2[appconfig.MetaKey] == v1 || tmpl2 == tmpl {
		t.Errorf("changing a value left the job alike: meta %v, template\n%s", meta2, tmpl2)
	}
}
