package vaultdb

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/hstack-dev/hstack/pkg/clients"
)

// Credential is a PostgreSQL user issued by Vault. The password is a
// Secret: printing the struct redacts it.
type Credential struct {
	Username  string         `json:"username"`
	Password  clients.Secret `json:"password"`
	LeaseID   string         `json:"lease_id"`
	TTL       time.Duration  `json:"-"`
	Expires   time.Time      `json:"expires"`
	Renewable bool           `json:"renewable"`
}

// Creds has Vault create a user of role. A ttl > 0 replaces the role's
// default_ttl for this lease (Vault caps it at max_ttl): the database
// engine takes no TTL when issuing, so the lease is renewed with that
// increment right away, which also moves the user's VALID UNTIL. If that
// fails the new user is revoked again rather than left behind.
func Creds(ctx context.Context, vc *vaultapi.Client, mount, role string, ttl time.Duration) (*Credential, error) {
	path := strings.Trim(mount, "/") + "/creds/" + role
	s, err := vc.Logical().ReadWithContext(ctx, path)
	if err != nil {
		return nil, wrap(err, "read", path)
	}
	if s == nil || s.Data == nil {
		return nil, fmt.Errorf("read %s: Vault returned no credentials", path)
	}
	c := &Credential{LeaseID: s.LeaseID, Renewable: s.Renewable, TTL: time.Duration(s.LeaseDuration) * time.Second}
	c.Username, _ = s.Data["username"].(string)
	pw, _ := s.Data["password"].(string)
	c.Password = clients.Secret(pw)
	issued := time.Now()
	if ttl > 0 {
		r, err := vc.Sys().RenewWithContext(ctx, s.LeaseID, int(ttl/time.Second))
		if err != nil {
			rerr := vc.Sys().RevokeWithContext(context.WithoutCancel(ctx), s.LeaseID)
			if rerr != nil {
				return nil, fmt.Errorf("%w (and revoking the new lease %s failed too: %v)", wrap(err, "set the TTL of", s.LeaseID), s.LeaseID, rerr)
			}
			return nil, fmt.Errorf("%w; the credential was revoked", wrap(err, "set the TTL of", s.LeaseID))
		}
		issued = time.Now()
		c.TTL = time.Duration(r.LeaseDuration) * time.Second
	}
	c.Expires = issued.Add(c.TTL).UTC().Truncate(time.Second)
	return c, nil
}

// Lease is one outstanding credential.
type Lease struct {
	ID        string        `json:"lease_id"`
	Role      string        `json:"role"`
	Issued    time.Time     `json:"issued"`
	Expires   time.Time     `json:"expires"`
	TTL       time.Duration `json:"-"`
	Renewable bool          `json:"renewable"`
}

// Leases lists the leases of role, or of every role of the mount when
// role is "", with their expiry. Listing needs sudo on sys/leases/lookup.
func Leases(ctx context.Context, vc *vaultapi.Client, mount, role string) ([]Lease, error) {
	mount = strings.Trim(mount, "/")
	roles := []string{role}
	if role == "" {
		keys, err := list(ctx, vc, "sys/leases/lookup/"+mount+"/creds/")
		if err != nil {
			return nil, err
		}
		roles = nil
		for _, k := range keys {
			roles = append(roles, strings.TrimSuffix(k, "/"))
		}
	}
	var out []Lease
	for _, r := range roles {
		keys, err := list(ctx, vc, "sys/leases/lookup/"+mount+"/creds/"+r+"/")
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			id := mount + "/creds/" + r + "/" + k
			s, err := vc.Sys().LookupWithContext(ctx, id)
			if err != nil {
				// Expired and revoked between the list and the lookup.
				if status(err) == 400 {
					continue
				}
				return nil, wrap(err, "look up lease", id)
			}
			l := Lease{ID: id, Role: r}
			if s != nil && s.Data != nil {
				l.Issued, _ = time.Parse(time.RFC3339Nano, fmt.Sprint(s.Data["issue_time"]))
				l.Expires, _ = time.Parse(time.RFC3339Nano, fmt.Sprint(s.Data["expire_time"]))
				l.Renewable, _ = s.Data["renewable"].(bool)
				if n, ok := s.Data["ttl"].(json.Number); ok {
					v, _ := n.Int64()
					l.TTL = time.Duration(v) * time.Second
				}
			}
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Role != out[j].Role {
			return out[i].Role < out[j].Role
		}
		return out[i].Expires.Before(out[j].Expires)
	})
	return out, nil
}

func list(ctx context.Context, vc *vaultapi.Client, path string) ([]string, error) {
	s, err := vc.Logical().ListWithContext(ctx, path)
	if err != nil {
		return nil, wrap(err, "list", path)
	}
	if s == nil || s.Data == nil {
		return nil, nil
	}
	var keys []string
	if l, ok := s.Data["keys"].([]any); ok {
		for _, k := range l {
			keys = append(keys, fmt.Sprint(k))
		}
	}
	return keys, nil
}

// Revoke revokes one lease of mount and waits until Vault has dropped the
// user. A lease Vault does not know is an error: Vault itself would
// silently accept it, and an operator revoking a leaked credential must
// know it was not there.
func Revoke(ctx context.Context, vc *vaultapi.Client, mount, leaseID string) error {
	prefix := strings.Trim(mount, "/") + "/creds/"
	if !strings.HasPrefix(leaseID, prefix) {
		return fmt.Errorf("lease %s is not a credential of %s (its ID would start with %s)", leaseID, strings.Trim(mount, "/"), prefix)
	}
	if _, err := vc.Sys().LookupWithContext(ctx, leaseID); err != nil {
		if status(err) == 400 {
			return fmt.Errorf("no lease %s: it expired, was revoked, or never existed", leaseID)
		}
		return wrap(err, "look up lease", leaseID)
	}
	if err := vc.Sys().RevokeWithOptionsWithContext(ctx, &vaultapi.RevokeOptions{LeaseID: leaseID, Sync: true}); err != nil {
		return wrap(err, "revoke lease", leaseID)
	}
	return nil
}

// RevokeRole revokes every lease of role with one prefix revocation and
// returns how many there were.
func RevokeRole(ctx context.Context, vc *vaultapi.Client, mount, role string) (int, error) {
	mount = strings.Trim(mount, "/")
	keys, err := list(ctx, vc, "sys/leases/lookup/"+mount+"/creds/"+role+"/")
	if err != nil {
		return 0, err
	}
	prefix := mount + "/creds/" + role + "/"
	if err := vc.Sys().RevokeWithOptionsWithContext(ctx, &vaultapi.RevokeOptions{LeaseID: prefix, Prefix: true, Sync: true}); err != nil {
		return 0, wrap(err, "revoke leases under", prefix)
	}
	return len(keys), nil
}
