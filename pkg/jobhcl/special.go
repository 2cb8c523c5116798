package jobhcl

import (
	"fmt"
	"reflect"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	nomadapi "github.com/hashicorp/nomad/api"
	"github.com/zclconf/go-cty/cty"
)

func typeOf[T any]() reflect.Type { return reflect.TypeOf((*T)(nil)).Elem() }

// fieldOrder is the order of HCL names within a block, following Nomad's
// documentation and examples. Names not listed follow in struct order;
// attributes always come before blocks.
var fieldOrder = map[reflect.Type][]string{
	typeOf[nomadapi.Job](): {
		"name", "region", "namespace", "node_pool", "datacenters", "type", "priority", "all_at_once",
		"meta", "constraint", "affinity", "spread", "update", "multiregion", "migrate", "reschedule",
		"periodic", "parameterized", "ui", "group",
	},
	typeOf[nomadapi.TaskGroup](): {
		"count", "shutdown_delay", "stop_after_client_disconnect", "max_client_disconnect",
		"prevent_reschedule_on_lost", "max_run_duration",
		"meta", "constraint", "affinity", "spread", "consul", "network", "volume", "service",
		"update", "migrate", "restart", "reschedule", "disconnect", "ephemeral_disk", "scaling", "task",
	},
	typeOf[nomadapi.Task](): {
		"driver", "user", "kind", "leader", "kill_signal", "kill_timeout", "shutdown_delay",
		"lifecycle", "config", "env", "meta", "constraint", "affinity", "artifact", "template",
		"vault", "consul", "identity", "secret", "service", "volume_mount", "dispatch_payload",
		"csi_plugin", "action", "schedule", "scaling", "restart", "logs", "resources",
	},
	typeOf[nomadapi.Service](): {
		"name", "provider", "port", "address", "address_mode", "task", "tags", "canary_tags",
		"enable_tag_override", "on_update", "cluster", "kind",
		"meta", "canary_meta", "tagged_addresses", "weights", "identity", "check", "check_restart", "connect",
	},
	typeOf[nomadapi.ServiceCheck](): {
		"name", "type", "command", "args", "path", "method", "body", "protocol", "port",
		"address_mode", "advertise", "expose", "interval", "timeout", "initial_status", "on_update",
		"success_before_passing", "failures_before_critical", "failures_before_warning", "notes",
		"tls_server_name", "tls_skip_verify", "grpc_service", "grpc_use_tls", "task",
		"header", "check_restart",
	},
	typeOf[nomadapi.Template](): {
		"source", "data", "destination", "perms", "uid", "gid", "env", "change_mode", "change_signal",
		"splay", "left_delimiter", "right_delimiter", "once", "error_on_missing_key", "vault_grace",
		"change_script", "wait",
	},
	typeOf[nomadapi.NetworkResource](): {
		"mode", "hostname", "device", "cidr", "ip", "mbits", "port", "reserved_ports", "dns", "cni",
	},
	typeOf[nomadapi.Resources](): {
		"cpu", "cores", "memory", "memory_max", "disk", "iops", "secrets", "device", "numa", "network",
	},
	typeOf[nomadapi.RestartPolicy](): {"attempts", "interval", "delay", "mode", "render_templates"},
	typeOf[nomadapi.UpdateStrategy](): {
		"max_parallel", "health_check", "min_healthy_time", "healthy_deadline", "progress_deadline",
		"auto_revert", "auto_promote", "canary", "stagger",
	},
	typeOf[nomadapi.Vault](): {
		"cluster", "role", "policies", "namespace", "change_mode", "change_signal", "env",
		"disable_file", "allow_token_expiration",
	},
	typeOf[nomadapi.PeriodicConfig](): {"cron", "crons", "time_zone", "prohibit_overlap", "enabled"},
}

// ignored lists untagged fields that are server-managed state.
var ignored = map[reflect.Type]map[string]bool{
	typeOf[nomadapi.Job](): {
		"Status": true, "StatusDescription": true, "Stable": true, "Version": true,
		"SubmitTime": true, "CreateIndex": true, "ModifyIndex": true, "JobModifyIndex": true,
		"VersionTag": true, "NomadTokenID": true, "ParentID": true, "Dispatched": true,
		"DispatchIdempotencyToken": true, "Payload": true,
	},
	typeOf[nomadapi.ScalingPolicy](): {
		"ID": true, "Namespace": true, "Target": true, "CreateIndex": true, "ModifyIndex": true,
	},
}

// requiredDefaults stands in for a nil pointer in an attribute the parser
// requires but Nomad defaults anyway (normalizeChangeScript and
// Canonicalize both set fail_on_error = false), so the job means the same.
var requiredDefaults = map[reflect.Type]map[string]any{
	typeOf[nomadapi.ChangeScript](): {"FailOnError": false},
}

var handlers map[reflect.Type]map[string]handler

// bodyEncoders replace the generic walk for types whose jobspec syntax is
// not their struct tags.
var bodyEncoders map[reflect.Type]func(e *encoder, w *writer, path string, v reflect.Value) error

func init() {
	skip := func(*encoder, *writer, string, reflect.Value, reflect.Value) error { return nil }
	envMeta := func(name string) handler {
		return func(e *encoder, w *writer, path string, _, fv reflect.Value) error {
			return e.envMeta(w, path, name, fv)
		}
	}
	handlers = map[reflect.Type]map[string]handler{
		typeOf[nomadapi.Job](): {
			"ID": skip, // the block label
			"Name": func(e *encoder, w *writer, path string, job, fv reflect.Value) error {
				j := job.Addr().Interface().(*nomadapi.Job)
				if j.Name == nil || *j.Name == *j.ID {
					return nil
				}
				return e.attr(w, path, "name", fv)
			},
			"Meta": envMeta("meta"),
		},
		typeOf[nomadapi.TaskGroup](): {
			"Meta":    envMeta("meta"),
			"Scaling": groupScaling,
		},
		typeOf[nomadapi.Task](): {
			"Env":             envMeta("env"),
			"Meta":            envMeta("meta"),
			"Identity":        skip, // written with Identities
			"Identities":      identities,
			"ScalingPolicies": taskScaling,
		},
		typeOf[nomadapi.NetworkResource](): {
			"DynamicPorts":  ports(false),
			"ReservedPorts": ports(true),
		},
		typeOf[nomadapi.PeriodicConfig](): {
			"SpecType": func(_ *encoder, _ *writer, path string, _, fv reflect.Value) error {
				// The parser sets "cron", the only type, whenever a spec is given.
				if fv.IsNil() || fv.Elem().String() == nomadapi.PeriodicSpecCron {
					return nil
				}
				return fmt.Errorf("%s: spec type %q has no HCL jobspec representation", path, fv.Elem().String())
			},
		},
	}
	bodyEncoders = map[reflect.Type]func(*encoder, *writer, string, reflect.Value) error{
		typeOf[nomadapi.Constraint](): constraintBody,
		typeOf[nomadapi.Affinity]():   affinityBody,
	}
}

// envMeta writes job, group and task meta and task env. The parser also
// accepts these as an attribute holding an object, whose keys may be any
// string ("com.example.owner"); block syntax, the usual form, needs
// identifiers.
func (e *encoder) envMeta(w *writer, path, name string, v reflect.Value) error {
	if v.Len() == 0 {
		return nil
	}
	for _, k := range sortedKeys(v) {
		if !validIdentifier(k) {
			cv, err := toCty(v)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			w.sep(true)
			w.body.SetAttributeValue(name, cv)
			return nil
		}
	}
	return e.mapBlock(w, path, name, v)
}

// identities writes the default identity (Task.Identity) first: the parser
// moves the first identity named "" or "default" out of Identities into
// Task.Identity, so a default identity anywhere else would not come back
// where it was.
func identities(e *encoder, w *writer, path string, task, fv reflect.Value) error {
	t := task.Addr().Interface().(*nomadapi.Task)
	isDefault := func(id *nomadapi.WorkloadIdentity) bool { return id.Name == "" || id.Name == "default" }
	if t.Identity != nil {
		if !isDefault(t.Identity) {
			return fmt.Errorf("%s: Task.Identity is named %q, but the jobspec only keeps the default identity there; put it in Identities", path, t.Identity.Name)
		}
		if err := e.structBlock(w, path, "identity", reflect.ValueOf(t.Identity).Elem()); err != nil {
			return err
		}
	}
	for i, id := range t.Identities {
		if id == nil {
			return fmt.Errorf("%s[%d]: nil element", path, i)
		}
		if t.Identity == nil && isDefault(id) {
			return fmt.Errorf("%s[%d]: the default identity must be Task.Identity: the jobspec parser moves it there", path, i)
		}
		if err := e.structBlock(w, fmt.Sprintf("%s[%d]", path, i), "identity", reflect.ValueOf(id).Elem()); err != nil {
			return err
		}
	}
	return nil
}

// ports writes both kinds of ports as `port` blocks: the parser files a port
// with a static value under ReservedPorts and one without under
// DynamicPorts.
func ports(reserved bool) handler {
	return func(e *encoder, w *writer, path string, _, fv reflect.Value) error {
		for i := 0; i < fv.Len(); i++ {
			p := fv.Index(i).Interface().(nomadapi.Port)
			epath := fmt.Sprintf("%s[%d]", path, i)
			if reserved && p.Value == 0 {
				return fmt.Errorf("%s: reserved port %q has no static value; the jobspec would make it dynamic", epath, p.Label)
			}
			if !reserved && p.Value != 0 {
				return fmt.Errorf("%s: dynamic port %q has static value %d; static ports belong in ReservedPorts", epath, p.Label, p.Value)
			}
			if err := e.structBlock(w, epath, "port", fv.Index(i)); err != nil {
				return err
			}
		}
		return nil
	}
}

func groupScaling(e *encoder, w *writer, path string, _, fv reflect.Value) error {
	if fv.IsNil() {
		return nil
	}
	p := fv.Interface().(*nomadapi.ScalingPolicy)
	if p.Type != "" && p.Type != nomadapi.ScalingPolicyTypeHorizontal {
		return fmt.Errorf("%s: group scaling type %q is not allowed by the jobspec (only %q)", path, p.Type, nomadapi.ScalingPolicyTypeHorizontal)
	}
	if p.Max == nil {
		return fmt.Errorf("%s: group scaling needs max", path)
	}
	return w.block("scaling", nil, func(w *writer) error { return e.scalingBody(w, path, p) })
}

// taskScaling writes vertical policies as `scaling "cpu"` / `scaling "mem"`;
// the label determines the type, so type itself is not written.
func taskScaling(e *encoder, w *writer, path string, _, fv reflect.Value) error {
	for i := 0; i < fv.Len(); i++ {
		p, _ := fv.Index(i).Interface().(*nomadapi.ScalingPolicy)
		epath := fmt.Sprintf("%s[%d]", path, i)
		if p == nil {
			return fmt.Errorf("%s: nil element", epath)
		}
		var label string
		switch p.Type {
		case "vertical_cpu":
			label = "cpu"
		case "vertical_mem":
			label = "mem"
		default:
			return fmt.Errorf("%s: task scaling type %q has no jobspec label (want vertical_cpu or vertical_mem)", epath, p.Type)
		}
		if err := w.block("scaling", []string{label}, func(w *writer) error { return e.scalingBody(w, epath, p) }); err != nil {
			return err
		}
	}
	return nil
}

func (e *encoder) scalingBody(w *writer, path string, p *nomadapi.ScalingPolicy) error {
	v := reflect.ValueOf(p).Elem()
	for _, f := range []struct{ goName, name string }{{"Min", "min"}, {"Max", "max"}, {"Enabled", "enabled"}} {
		if err := e.attr(w, path+"."+f.goName, f.name, v.FieldByName(f.goName)); err != nil {
			return err
		}
	}
	// Everything else but type (the caller's business) and server state must
	// be unset, so that a new field in ScalingPolicy is not silently dropped.
	for _, s := range specsFor(v.Type()) {
		switch s.goName {
		case "Min", "Max", "Enabled", "Type", "Policy":
			continue
		}
		if !ignored[v.Type()][s.goName] && !isZero(v.Field(s.index)) {
			return fmt.Errorf("%s.%s is set but not supported by jobhcl", path, s.goName)
		}
	}
	if p.Policy != nil {
		return w.block("policy", nil, func(w *writer) error {
			return e.freeBody(w, path+".Policy", reflect.ValueOf(p.Policy), true, true)
		})
	}
	return nil
}

// constraintBody writes a constraint the way the docs do, using the
// parser's shorthands (distinct_hosts = true, regexp = "...") where they
// decode to exactly the same Constraint.
func constraintBody(e *encoder, w *writer, path string, v reflect.Value) error {
	c := v.Interface().(nomadapi.Constraint)
	for _, s := range []string{c.LTarget, c.RTarget, c.Operand} {
		if err := checkNFC(s); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	str := func(name, s string) { w.value(name, cty.StringVal(s)) }
	switch {
	case c.Operand == "":
		return fmt.Errorf("%s: constraint has no operator (the jobspec would make it \"=\")", path)
	case c.Operand == nomadapi.ConstraintDistinctHosts && c.LTarget == "" && (c.RTarget == "true" || c.RTarget == "false"):
		w.value("distinct_hosts", cty.BoolVal(c.RTarget == "true"))
		return nil
	case c.Operand == nomadapi.ConstraintDistinctProperty && c.LTarget != "":
		str("distinct_property", c.LTarget)
		if c.RTarget != "" {
			str("value", c.RTarget)
		}
		return nil
	case c.RTarget != "" && (c.Operand == nomadapi.ConstraintRegex || c.Operand == nomadapi.ConstraintVersion ||
		c.Operand == nomadapi.ConstraintSemver || c.Operand == nomadapi.ConstraintSetContains):
		if c.LTarget != "" {
			str("attribute", c.LTarget)
		}
		str(c.Operand, c.RTarget)
		return nil
	}
	if c.LTarget != "" {
		str("attribute", c.LTarget)
	}
	if c.Operand != "=" {
		str("operator", c.Operand)
	}
	if c.RTarget != "" {
		str("value", c.RTarget)
	}
	return nil
}

func affinityBody(e *encoder, w *writer, path string, v reflect.Value) error {
	a := v.Interface().(nomadapi.Affinity)
	for _, s := range []string{a.LTarget, a.RTarget, a.Operand} {
		if err := checkNFC(s); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	str := func(name, s string) { w.value(name, cty.StringVal(s)) }
	if a.Operand == "" {
		return fmt.Errorf("%s: affinity has no operator (the jobspec would make it \"=\")", path)
	}
	if a.LTarget != "" {
		str("attribute", a.LTarget)
	}
	switch {
	case a.RTarget != "" && (a.Operand == nomadapi.ConstraintRegex || a.Operand == nomadapi.ConstraintVersion ||
		a.Operand == nomadapi.ConstraintSemver || a.Operand == nomadapi.ConstraintSetContainsAll ||
		a.Operand == nomadapi.ConstraintSetContainsAny):
		str(a.Operand, a.RTarget)
	default:
		if a.Operand != "=" {
			str("operator", a.Operand)
		}
		if a.RTarget != "" {
			str("value", a.RTarget)
		}
	}
	if a.Weight != nil {
		w.value("weight", cty.NumberIntVal(int64(*a.Weight)))
	}
	return nil
}

// --- free-form maps ---------------------------------------------------------

// freeBody writes a map[string]interface{} (driver config, scaling policy,
// proxy config). The parser reads these bodies with its "blocks as
// attributes" rewrite, which decides the Go shape of what comes back:
//
//   - a block `k { ... }` (or several) becomes []map[string]interface{};
//   - an attribute whose value is an object literal is wrapped in a list
//     too, so a map value is written as `k = ({ ... })`: parentheses make it
//     a different expression, which the parser leaves a map;
//   - anything else is evaluated as is; integral numbers come back as int,
//     lists as []interface{};
//   - a top-level nil is dropped, so it is an error.
//
// So lists of maps are written as repeated blocks (docker's mount, logging)
// and maps keep their type. With foldLabels, used for scaling policies, a
// block whose only content is one nested block under a single key becomes a
// labeled block (`check "cpu" { strategy "target-value" { ... } }`), the
// autoscaler's documented syntax for the same value.
func (e *encoder) freeBody(w *writer, path string, m reflect.Value, foldLabels, top bool) error {
	type blockItem struct {
		key   string
		elems []reflect.Value
	}
	var blocks []blockItem
	// Attributes first, then blocks, each sorted: the parser does not care
	// about order, readers do.
	for _, k := range sortedKeys(m) {
		v := m.MapIndex(reflect.ValueOf(k))
		kpath := path + "." + k
		if !validIdentifier(k) {
			return fmt.Errorf("%s: key %q is not an HCL identifier", path, k)
		}
		if err := checkNFC(k); err != nil {
			return fmt.Errorf("%s: key: %w", path, err)
		}
		for v.Kind() == reflect.Interface && !v.IsNil() {
			v = v.Elem()
		}
		if top && (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer) && v.IsNil() {
			// The parser stores each top-level value with SetMapIndex, which
			// deletes the key when the value is nil.
			return fmt.Errorf("%s: nil value: the jobspec parser drops the key", kpath)
		}
		// dynblock would take a block named "dynamic" for its own.
		if elems, ok := mapList(v); ok && k != "dynamic" {
			blocks = append(blocks, blockItem{k, elems})
			continue
		}
		if v.Kind() == reflect.String {
			if err := checkNFC(v.String()); err != nil {
				return fmt.Errorf("%s: %w", kpath, err)
			}
			w.attr(k, stringTokens(v.String(), w.depth))
			continue
		}
		cv, err := toCty(v)
		if err != nil {
			return fmt.Errorf("%s: %w", kpath, err)
		}
		toks := valueTokens(cv)
		if v.Kind() == reflect.Map {
			toks = append(append(hclwrite.Tokens{{Type: hclsyntax.TokenOParen, Bytes: []byte("(")}}, toks...),
				&hclwrite.Token{Type: hclsyntax.TokenCParen, Bytes: []byte(")")})
		}
		w.attr(k, toks)
	}
	for _, b := range blocks {
		for i, el := range b.elems {
			if err := e.freeBlock(w, fmt.Sprintf("%s.%s[%d]", path, b.key, i), b.key, el, foldLabels); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *encoder) freeBlock(w *writer, path, name string, m reflect.Value, foldLabels bool) error {
	var labels []string
	if foldLabels && m.Len() == 1 {
		k := m.MapKeys()[0]
		inner := m.MapIndex(k)
		for inner.Kind() == reflect.Interface && !inner.IsNil() {
			inner = inner.Elem()
		}
		if elems, ok := mapList(inner); ok && len(elems) == 1 && validIdentifier(k.String()) {
			labels, m = []string{k.String()}, elems[0]
			path = fmt.Sprintf("%s[%q]", path, k.String())
		}
	}
	return w.block(name, labels, func(w *writer) error { return e.freeBody(w, path, m, foldLabels, false) })
}

// mapList reports whether v is a non-empty list whose elements are all maps
// with identifier keys, i.e. what the parser makes of repeated blocks.
func mapList(v reflect.Value) ([]reflect.Value, bool) {
	if v.Kind() != reflect.Slice || v.Len() == 0 {
		return nil, false
	}
	out := make([]reflect.Value, v.Len())
	for i := range out {
		el := v.Index(i)
		for el.Kind() == reflect.Interface && !el.IsNil() {
			el = el.Elem()
		}
		if el.Kind() != reflect.Map || el.Type().Key().Kind() != reflect.String || el.IsNil() {
			return nil, false
		}
		for _, k := range el.MapKeys() {
			if !validIdentifier(k.String()) {
				return nil, false
			}
		}
		out[i] = el
	}
	return out, true
}

// validIdentifier is hclsyntax.ValidIdentifier, which runs HCL's lexer
// (allocating) for every map key; the keys of a job are nearly always
// plain ASCII words, which are identifiers without asking.
func validIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '_' || c == '-'):
		default:
			return hclsyntax.ValidIdentifier(s)
		}
	}
	return true
}
