package monitoring

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// tmplDoc turns a Go value into the data of a Nomad template. The value is
// encoded as YAML; strings in it may hold placeholders from action, which
// are replaced by Nomad template actions after encoding, so the encoder
// decides all quoting and structure and an action lands exactly where its
// placeholder was. A placeholder is a plain YAML scalar, so the encoder
// never quotes it: an action whose output is itself YAML (a JSON-quoted
// secret) can stand for a whole value.
type tmplDoc struct {
	actions []string
}

// action registers a Nomad template action and returns its placeholder.
func (d *tmplDoc) action(a string) string {
	d.actions = append(d.actions, a)
	return fmt.Sprintf("__HSTACK_ACTION_%d__", len(d.actions)-1)
}

// render encodes v and substitutes the actions. Any "{{" or "}}" the
// encoder wrote came from the stack file, not from an action; it is refused
// because consul-template would execute it (a receiver's channel could
// otherwise read any secret the job may).
func (d *tmplDoc) render(v any) (string, error) {
	s, err := encodeYAML(v)
	if err != nil {
		return "", err
	}
	if strings.Contains(s, "{{") || strings.Contains(s, "}}") {
		return "", fmt.Errorf(`a value contains "{{" or "}}", which Nomad's template engine would execute`)
	}
	for i := len(d.actions) - 1; i >= 0; i-- {
		ph := fmt.Sprintf("__HSTACK_ACTION_%d__", i)
		if !strings.Contains(s, ph) {
			return "", fmt.Errorf("internal error: placeholder %s not in the encoded document", ph)
		}
		s = strings.ReplaceAll(s, ph, d.actions[i])
	}
	return s, nil
}

func encodeYAML(v any) (string, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	return b.String(), nil
}

// envAction reads a variable of the task's environment or a node attribute
// ("attr.unique.network.ip-address") when the template is rendered.
func envAction(name string) string {
	return "{{ env " + strconv.Quote(name) + " }}"
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// secretAction reads one key of a Vault KV secret. The path and key are
// quoted as Go string literals, so nothing in them is template syntax.
// Paths whose second segment is "data" are KV version 2 (the stack file's
// convention), whose values sit one level deeper, under .Data.data. A key
// that is an identifier is read as a field, so that error_on_missing_key
// catches a typo; others need index, which cannot.
func secretAction(ref *stackfile.SecretRef, pipe string) string {
	data := ".Data"
	if parts := strings.SplitN(ref.VaultPath, "/", 3); len(parts) == 3 && parts[1] == "data" {
		data = ".Data.data"
	}
	value := data + "." + ref.VaultKey
	if !identifier.MatchString(ref.VaultKey) {
		value = "index " + data + " " + strconv.Quote(ref.VaultKey)
	}
	if pipe != "" {
		value += " | " + pipe
	}
	return "{{ with secret " + strconv.Quote(ref.VaultPath) + " }}{{ " + value + " }}{{ end }}"
}
