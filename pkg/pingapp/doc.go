// Package pingapp is the sample web application the hstack platform runs on
// Nomad. It exists to exercise the platform end to end: service discovery and
// health checks, Vault dynamic database credentials rendered by a Nomad
// template, rolling deploys with automatic rollback, and graceful draining.
//
// # Endpoints
//
//	GET /ping     "pong" after a SELECT 1 round trip to PostgreSQL, else 503
//	GET /healthz  200 while the process is alive (liveness)
//	GET /readyz   200 while PostgreSQL answers and shutdown has not begun
//	GET /metrics  Prometheus metrics
//
// Only GET and HEAD are accepted (405 otherwise); other paths are 404.
//
// # Configuration
//
// Flags take precedence over the environment variable named in parentheses:
//
//	-listen  (LISTEN_ADDR)     address to listen on; default 127.0.0.1:8080
//	-drain   (SHUTDOWN_DRAIN)  how long to keep serving after SIGTERM; default 5s
//	-version                   print version and exit
//
// Database credentials are a libpq connection string (keyword/value or a
// postgres:// URL) read from the file named by DATABASE_URL_FILE, or else
// taken from DATABASE_URL. The file form is what the Nomad job uses: a
// template renders Vault dynamic credentials into it, and the application
// re-reads it whenever it changes or on SIGHUP, switching to a new connection
// pool only once the new credentials have been verified. Passwords are never
// logged.
//
// # Fault injection
//
// These variables are read once at start so that tests can deploy a "bad
// release" of the very same binary. An invalid value makes the process refuse
// to start with an error naming the variable.
//
//	FAULT_ERROR_RATE   number in [0,1]: fraction of /ping requests answered
//	                   500 "injected fault"
//	FAULT_LATENCY      Go duration (e.g. 250ms): extra latency added to /ping
//	FAULT_FAIL_HEALTH  bool: /healthz and /readyz answer 503, so health checks
//	                   fail while the process otherwise works
//	FAULT_CRASH        bool: exit with status 1 right after start, which Nomad
//	                   sees as a crash loop
//
// Bools accept the forms of [strconv.ParseBool] (1, t, true, 0, f, false, ...).
//
// # Build
//
// [Version] and [Commit] are set at link time:
//
//	go build -ldflags "-X github.com/hstack-dev/hstack/pkg/pingapp.Version=v1.2.3 \
//	    -X github.com/hstack-dev/hstack/pkg/pingapp.Commit=abc123" ./cmd/pingapp
package pingapp

// Version and Commit identify the build; see the package documentation for
// how to set them. They are exported as pingapp_build_info.
var (
	Version = "dev"
	Commit  = "unknown"
)
