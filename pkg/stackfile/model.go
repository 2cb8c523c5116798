package stackfile

import (
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Stack is a stack file resolved for one environment: variables
// substituted, the environment's overrides merged in, defaults filled in
// and every rule of the schema checked. Consumers (renderer, deploy
// engine) can rely on the invariants documented on each field without
// re-validating.
//
// Slices keep the order of the file, with blocks that only an environment
// adds after the base ones, so anything rendered from a Stack is
// deterministic.
type Stack struct {
	// Name is the label of the stack block.
	Name        string
	Region      string   // default "global"
	Datacenters []string // never empty; default ["dc1"]
	Namespace   string   // default "default"

	// Environment is the environment the Stack was resolved for, "" for
	// the base configuration.
	Environment string
	// Environments lists every environment the file declares, in file
	// order, whichever one was selected.
	Environments []string

	// Filename is the stack file's path as given to Load or Parse; Dir is
	// its directory, made absolute when possible. Relative paths in the
	// file (a raw_exec command, a from_terraform_output dir) are meant
	// relative to Dir: see Path.
	Filename string
	Dir      string

	Variables  []*Variable
	Databases  []*Database
	Apps       []*App // at least one
	Notifiers  []*Notifier
	Ingress    *Ingress    // nil when the file has no ingress block
	Monitoring *Monitoring // nil when the file has no monitoring block

	// DeclRange is the stack block's header, for diagnostics about the
	// stack as a whole.
	DeclRange hcl.Range
}

// Path resolves p against the stack file's directory unless it is
// absolute.
func (s *Stack) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.Dir, p)
}

// App returns the app with the given name, or nil.
func (s *Stack) App(name string) *App {
	for _, a := range s.Apps {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// Database returns the database with the given name, or nil.
func (s *Stack) Database(name string) *Database {
	for _, d := range s.Databases {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// Notifier returns the notifier with the given name, or nil.
func (s *Stack) Notifier(name string) *Notifier {
	for _, n := range s.Notifiers {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Variable returns the input variable with the given name, or nil.
func (s *Stack) Variable(name string) *Variable {
	for _, v := range s.Variables {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// Ranges maps attribute names to the source range of their value
// expression. Only attributes written in the file (base or environment)
// appear; defaulted ones do not, so a consumer can tell "set to the
// default" from "not set" and point diagnostics at the right place.
type Ranges map[string]hcl.Range

// Of returns the range of attribute name, or fallback when it was not set.
func (r Ranges) Of(name string, fallback hcl.Range) hcl.Range {
	if rng, ok := r[name]; ok {
		return rng
	}
	return fallback
}

// ValueSource says where a variable's value came from.
type ValueSource string

// Variable value sources, lowest precedence first.
const (
	SourceDefault ValueSource = "default"
	SourceEnv     ValueSource = "env"      // HSTACK_VAR_<name>
	SourceVarFile ValueSource = "var-file" // a -var-file
	SourceCLI     ValueSource = "cli"      // a -var option
)

// Variable is a declared input variable with its resolved value.
type Variable struct {
	Name        string
	Description string
	// Type is the declared type constraint; cty.DynamicPseudoType when the
	// declaration has no type (any value is accepted).
	Type cty.Type
	// Default is cty.NilVal when the variable has no default.
	Default cty.Value
	// Sensitive values are never printed by hstack.
	Sensitive bool
	// Value is the resolved value, already converted to Type.
	Value cty.Value
	// Source is where Value came from; SourceRange points at it when it
	// came from a file, an option or the default.
	Source      ValueSource
	SourceRange hcl.Range
	DeclRange   hcl.Range
}

// Database is a PostgreSQL database whose credentials Vault's database
// secrets engine issues to apps.
type Database struct {
	Name string
	// Address and Port locate the server. When FromTerraform is set they
	// are empty/zero: the deploy engine reads them from Terraform outputs.
	Address string
	Port    int // default 5432 (unless FromTerraform)
	// DatabaseName is the PostgreSQL database to connect to (attribute
	// "name"); default "postgres".
	DatabaseName  string
	FromTerraform *TerraformOutputs
	// VaultMount is the path of Vault's database secrets engine; default
	// "database".
	VaultMount string
	Roles      []*Role // unique names
	Attrs      Ranges
	DeclRange  hcl.Range
}

// Role returns the role with the given name, or nil.
func (d *Database) Role(name string) *Role {
	for _, r := range d.Roles {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// TerraformOutputs names the Terraform outputs that hold a database's
// endpoints, so infrastructure built by Terraform need not be copied into
// the stack file. The values are read at deploy time, not by Load.
type TerraformOutputs struct {
	// Dir is the Terraform working directory as written; resolve it with
	// Stack.Path.
	Dir string
	// Writer, Reader and Port are output names. Writer is required; Reader
	// is "" when the database has no read endpoint; Port is "" to use 5432.
	Writer    string
	Reader    string
	Port      string
	Attrs     Ranges
	DeclRange hcl.Range
}

// Privilege is what a database role may do.
type Privilege string

// Privileges.
const (
	PrivilegeReadOnly  Privilege = "readonly"
	PrivilegeReadWrite Privilege = "readwrite"
	PrivilegeOwner     Privilege = "owner"
	PrivilegeCustom    Privilege = "custom"
)

// Role is a Vault database role: Vault creates a PostgreSQL user per lease
// with these privileges.
type Role struct {
	Name      string
	Privilege Privilege
	// CreationSQL and RevocationSQL are set only (and always) for
	// PrivilegeCustom; they use Vault's {{name}}, {{password}} and
	// {{expiration}} placeholders.
	CreationSQL   []string
	RevocationSQL []string
	DefaultTTL    time.Duration // default 1h
	MaxTTL        time.Duration // default 24h; >= DefaultTTL
	Attrs         Ranges
	DeclRange     hcl.Range
}

// Driver is the Nomad task driver an app runs with.
type Driver string

// Drivers.
const (
	DriverDocker  Driver = "docker"
	DriverRawExec Driver = "raw_exec"
)

// App is a web application run as one Nomad job with one task group.
type App struct {
	Name   string
	Driver Driver // default docker
	// Image is set for docker and always "" for raw_exec, which ignores
	// it (so a base can carry an image while an environment switches to
	// raw_exec).
	Image string
	// Command is required for raw_exec; for docker it optionally replaces
	// the image's command. Relative paths are relative to Stack.Dir.
	Command string
	// Args are passed through literally: Nomad interpolates ${NOMAD_...}
	// (written $${...} in the stack file).
	Args  []string
	Count int // default 1; >= 0
	Ports []*Port
	Env   map[string]string // never nil
	Tags  []string
	Meta  map[string]string // never nil
	// Config is the app's configuration for Consul KV.
	Config    map[string]string // never nil
	Resources Resources
	// Health is nil when the app declares no health check.
	Health *Health
	// Database is nil when the app uses no database.
	Database          *AppDatabase
	SpreadAcrossZones bool          // default false
	DistinctHosts     bool          // default false
	ShutdownDelay     time.Duration // default 5s
	KillTimeout       time.Duration // default 15s
	// Scaling is nil when the app has a fixed count.
	Scaling   *Scaling
	Rollout   Rollout // always filled in, with defaults when absent
	Attrs     Ranges
	DeclRange hcl.Range
}

// ServiceName is the Consul service of the app's port: the app's name for
// its first port, <app>-<port> for the others.
func (a *App) ServiceName(port string) string {
	if port == "" || len(a.Ports) == 0 || port == a.Ports[0].Name {
		return a.Name
	}
	return a.Name + "-" + strings.ToLower(strings.ReplaceAll(port, "_", "-"))
}

// IngressName is the name of the stack's ingress job and service.
func (s *Stack) IngressName() string { return s.Name + "-ingress" }

// Names hstack reserves in what an app declares: its own meta keys, and
// the env variables that point the app at the files hstack writes.
const (
	ReservedMetaPrefix = "hstack_"
	// DatabaseURLFileEnv names the file holding an app's libpq connection
	// string (apps with a database).
	DatabaseURLFileEnv = "DATABASE_URL_FILE"
	// ConfigFileEnv names the file holding an app's config (apps with
	// config).
	ConfigFileEnv = "HSTACK_CONFIG_FILE"
)

// Port returns the port with the given label, or nil.
func (a *App) Port(name string) *Port {
	for _, p := range a.Ports {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Port is a named port of an app; Nomad allocates the host port
// dynamically.
type Port struct {
	Name string
	// To is the port the app listens on inside its network namespace
	// (docker); 0 means "same as the allocated port".
	To        int
	DeclRange hcl.Range
}

// Resources are the Nomad task resources.
type Resources struct {
	CPU       int // MHz; default 100
	Memory    int // MB; default 128
	MemoryMax int // MB; 0 = no oversubscription; else >= Memory
	Attrs     Ranges
}

// HealthType is the kind of a health check.
type HealthType string

// Health check types.
const (
	HealthHTTP HealthType = "http"
	HealthTCP  HealthType = "tcp"
)

// Health is the Consul check that decides whether an instance is healthy,
// which is what rollouts wait for.
type Health struct {
	Type      HealthType    // default http
	Path      string        // http only; default "/"; starts with "/"
	Port      string        // a port label of the app; default the first port
	Interval  time.Duration // default 10s
	Timeout   time.Duration // default 2s; <= Interval
	Attrs     Ranges
	DeclRange hcl.Range
}

// AppDatabase says which database and Vault role an app gets credentials
// for. Both are guaranteed to exist in the Stack.
type AppDatabase struct {
	Name      string
	Role      string
	Attrs     Ranges
	DeclRange hcl.Range
}

// Scaling is a Nomad Autoscaler policy on the app's count.
type Scaling struct {
	Min                int // default Count; <= Count
	Max                int // required; >= Count
	Query              string
	Target             float64       // > 0
	EvaluationInterval time.Duration // default 10s
	Cooldown           time.Duration // default 1m
	Attrs              Ranges
	DeclRange          hcl.Range
}

// Strategy is how new versions of an app replace old ones.
type Strategy string

// Rollout strategies.
const (
	StrategyRolling   Strategy = "rolling"
	StrategyCanary    Strategy = "canary"
	StrategyBlueGreen Strategy = "blue-green"
)

// Rollout describes how a new version is deployed, verified and promoted.
type Rollout struct {
	Strategy    Strategy // default rolling
	MaxParallel int      // default 1; >= 1
	// Canary is the number of new-version instances Nomad starts before
	// promotion: 0 for rolling, 1..Count for canary (default 1), Count for
	// blue-green.
	Canary           int
	MinHealthyTime   time.Duration // default 10s; < HealthyDeadline
	HealthyDeadline  time.Duration // default 5m
	ProgressDeadline time.Duration // default 10m; > HealthyDeadline
	AutoRevert       bool          // default true
	AutoPromote      bool          // default false
	// Steps (canary strategy only) are run in order; their canary counts
	// never decrease and stay within Canary..Count.
	Steps      []*Step
	Analyses   []*Analysis
	SmokeTests []*SmokeTest
	// LoadTest, when set, sends traffic while canaries are analysed.
	LoadTest *LoadTest
	// Notify names notifiers; each exists in the Stack.
	Notify    []string
	Attrs     Ranges
	DeclRange hcl.Range // the rollout block, or the app's header if absent
}

// Analysis returns the analysis with the given name, or nil.
func (r *Rollout) Analysis(name string) *Analysis {
	for _, a := range r.Analyses {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// Step is one stage of a canary rollout: scale the canaries to Canary,
// wait Pause, then require every named analysis to succeed.
type Step struct {
	Canary    int
	Pause     time.Duration // 0 = no pause
	Analysis  []string      // names of analyses of the same rollout
	Attrs     Ranges
	DeclRange hcl.Range
}

// Analysis is a Prometheus query evaluated repeatedly during a rollout.
//
// Each of Count measurements, Interval apart, runs Query (after the
// rollout engine has expanded Go-template placeholders such as
// {{ .Version }}) and must return one number. A measurement succeeds when
// the number is >= Min (if set) and <= Max (if set), fails when it is
// outside, and is inconclusive when the query returns no sample or NaN.
// The analysis fails as soon as failures exceed FailureLimit, is
// inconclusive when inconclusive results exceed InconclusiveLimit, and
// succeeds otherwise.
type Analysis struct {
	Name              string
	Query             string
	Interval          time.Duration // default 1m
	Count             int           // default 1; >= 1
	Min               *float64      // at least one of Min and Max is set
	Max               *float64      // >= Min when both are set
	FailureLimit      int           // default 0; < Count
	InconclusiveLimit int           // default 0
	Attrs             Ranges
	DeclRange         hcl.Range
}

// SmokeTest is an HTTP request made to every new instance before the
// rollout proceeds.
type SmokeTest struct {
	Name         string
	Path         string        // starts with "/"
	Port         string        // a port label of the app; default the first port
	ExpectStatus int           // default 200
	ExpectBody   string        // the body must contain it; "" = any body
	Timeout      time.Duration // default 5s
	Attrs        Ranges
	DeclRange    hcl.Range
}

// LoadTest is steady synthetic traffic sent while a rollout's gate judges
// its canaries, so a metric analysis has requests to measure even when
// real traffic is thin (a laptop, a quiet hour). It targets URL, e.g.
// through the ingress, or else Path on every canary directly.
type LoadTest struct {
	URL          string        // "" = each canary at Path
	Path         string        // default "/"
	Port         string        // a port label of the app; default the first port
	Rate         int           // requests per second in all; default 10
	ExpectStatus int           // 0 = any 2xx
	ExpectBody   string        // "" = any body
	Timeout      time.Duration // default 5s
	Attrs        Ranges
	DeclRange    hcl.Range
}

// SecretRef says where a secret lives; the secret itself never appears in
// the stack file. Exactly one of VaultPath (with VaultKey) and Env is set.
type SecretRef struct {
	// VaultPath and VaultKey come from "path#key": the Vault KV path
	// (for KV v2 including "data/") and the key inside the secret.
	VaultPath string
	VaultKey  string
	// Env is the name of an environment variable of the hstack process.
	Env string
}

// String renders the reference as written in the stack file.
func (r SecretRef) String() string {
	if r.Env != "" {
		return "env:" + r.Env
	}
	return r.VaultPath + "#" + r.VaultKey
}

// NotifierType is the kind of endpoint a notifier posts to.
type NotifierType string

// Notifier types.
const (
	NotifierWebhook NotifierType = "webhook"
	NotifierSlack   NotifierType = "slack"
)

// Notifier receives rollout events (started, promoted, failed, reverted).
type Notifier struct {
	Name      string
	Type      NotifierType
	URL       SecretRef // from url_vault or url_env
	Attrs     Ranges
	DeclRange hcl.Range
}

// Ingress is the HTTP entry point that routes requests to apps.
type Ingress struct {
	Port      int // default 8080
	Routes    []*Route
	Attrs     Ranges
	DeclRange hcl.Range
}

// Route sends requests whose host and path match to an app.
type Route struct {
	Name       string
	App        string // exists in the Stack
	Port       string // a port label of App; default its first port
	Host       string // "" = any host
	PathPrefix string // default "/"; starts with "/"
	Attrs      Ranges
	DeclRange  hcl.Range
}

// Monitoring is the observability stack run next to the apps. A component
// whose block is absent is disabled; a present block enables it unless it
// says enabled = false.
type Monitoring struct {
	Prometheus   Prometheus
	Alertmanager Alertmanager
	Grafana      Grafana
	NodeExporter NodeExporter
	Logs         Logs
	DeclRange    hcl.Range
}

// Prometheus scrapes the apps and the cluster.
type Prometheus struct {
	Enabled        bool
	Retention      time.Duration // default 15d
	ScrapeInterval time.Duration // default 15s
	Attrs          Ranges
}

// Alertmanager routes alerts to receivers.
type Alertmanager struct {
	Enabled   bool
	Receivers []*Receiver // at least one when Enabled
	// Route is filled in when Enabled: written, or defaulted to the only
	// receiver.
	Route *AlertRoute
	Attrs Ranges
	// DeclRange is the alertmanager block's header.
	DeclRange hcl.Range
}

// ReceiverType is the kind of an Alertmanager receiver.
type ReceiverType string

// Receiver types.
const (
	ReceiverSlack     ReceiverType = "slack"
	ReceiverPagerDuty ReceiverType = "pagerduty"
	ReceiverEmail     ReceiverType = "email"
	ReceiverWebhook   ReceiverType = "webhook"
)

// Receiver is an Alertmanager receiver. Its secret is always a Vault
// reference, because Alertmanager runs as a Nomad job that reads it with
// a template at run time.
type Receiver struct {
	Name string
	Type ReceiverType
	// URL is set for slack and webhook (url_vault).
	URL *SecretRef
	// Key is set for pagerduty (key_vault): the integration key.
	Key *SecretRef
	// To is set for email: the recipient address(es).
	To string
	// Channel optionally overrides a slack webhook's channel.
	Channel   string
	Attrs     Ranges
	DeclRange hcl.Range
}

// AlertRoute is Alertmanager's root route.
type AlertRoute struct {
	Receiver       string        // exists among the receivers
	GroupBy        []string      // default ["alertname"]
	GroupWait      time.Duration // default 30s
	GroupInterval  time.Duration // default 5m
	RepeatInterval time.Duration // default 4h
	Attrs          Ranges
	DeclRange      hcl.Range
}

// Grafana serves dashboards over Prometheus (and the logs backend).
type Grafana struct {
	Enabled bool
	Attrs   Ranges
}

// NodeExporter exports host metrics from every client.
type NodeExporter struct {
	Enabled bool
	Attrs   Ranges
}

// LogBackend is where logs are shipped.
type LogBackend string

// Log backends.
const (
	LogsLoki   LogBackend = "loki"
	LogsVector LogBackend = "vector"
)

// Logs collects the apps' logs.
type Logs struct {
	Enabled bool
	Backend LogBackend // default loki
	Attrs   Ranges
}
