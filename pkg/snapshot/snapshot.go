// Package snapshot saves, verifies and restores the cluster's state: one
// Raft snapshot each of Nomad, Consul and Vault, taken through their
// official clients' snapshot APIs, kept together in one timestamped
// directory with a manifest and SHA-256 checksums.
//
// A set is written under a temporary name and renamed into place only when
// every snapshot and the manifest are on disk, so a directory with the set's
// name is always whole. Restore refuses a set whose checksums do not match
// before it touches any product.
package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Product is one system whose state a set holds.
type Product interface {
	// Name is the product's name ("nomad", "consul", "vault"); the
	// snapshot file is Name()+".snap".
	Name() string
	// Save streams a consistent snapshot to w.
	Save(ctx context.Context, w io.Writer) error
	// Restore replaces the product's state with the snapshot read from r.
	Restore(ctx context.Context, r io.Reader) error
}

// ManifestFile and SumsFile are the two files beside the snapshots. SumsFile
// is in sha256sum(1)'s format, so `sha256sum -c SHA256SUMS` checks a set
// without hstack.
const (
	ManifestFile = "manifest.json"
	SumsFile     = "SHA256SUMS"
	// FormatVersion is bumped when the manifest changes incompatibly.
	FormatVersion = 1
	// dirPrefix names every set: hstack-snapshot-20261201T211600Z.
	dirPrefix  = "hstack-snapshot-"
	timeLayout = "20060102T150405Z"
)

// Manifest describes a set.
type Manifest struct {
	Format    int       `json:"format"`
	CreatedAt time.Time `json:"created_at"`
	// Hstack is the version of hstack that took it.
	Hstack string `json:"hstack,omitempty"`
	Files  []File `json:"files"`
}

// File is one product's snapshot in a set.
type File struct {
	Product string `json:"product"`
	Name    string `json:"name"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
}

// DirName is the name of the set taken at t.
func DirName(t time.Time) string { return dirPrefix + t.UTC().Format(timeLayout) }

// Save takes a snapshot of every product into a new set under parent and
// returns the set's directory. On any error nothing is left under the set's
// name.
func Save(ctx context.Context, parent string, now time.Time, hstackVersion string, products ...Product) (string, *Manifest, error) {
	if len(products) == 0 {
		return "", nil, errors.New("no product to snapshot")
	}
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", nil, err
	}
	final := filepath.Join(parent, DirName(now))
	if _, err := os.Stat(final); err == nil {
		return "", nil, fmt.Errorf("%s already exists", final)
	}
	// Snapshots hold every secret Vault and Consul keep: the set is
	// readable by its owner only.
	tmp, err := os.MkdirTemp(parent, ".partial-"+DirName(now)+"-")
	if err != nil {
		return "", nil, err
	}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(tmp) // cleanup after a failure, which is the error returned
		}
	}()
	m := &Manifest{Format: FormatVersion, CreatedAt: now.UTC().Truncate(time.Second), Hstack: hstackVersion}
	for _, p := range products {
		f, err := saveOne(ctx, tmp, p)
		if err != nil {
			return "", nil, fmt.Errorf("%s snapshot: %w", p.Name(), err)
		}
		m.Files = append(m.Files, f)
	}
	if err := writeManifest(tmp, m); err != nil {
		return "", nil, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", nil, err
	}
	ok = true
	return final, m, nil
}

func saveOne(ctx context.Context, dir string, p Product) (File, error) {
	name := p.Name() + ".snap"
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600) // #nosec G304 -- <product>.snap in the set's new directory
	if err != nil {
		return File{}, err
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	err = p.Save(ctx, cw)
	if cerr := f.Sync(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return File{}, err
	}
	if cw.n == 0 {
		return File{}, errors.New("the snapshot is empty")
	}
	return File{Product: p.Name(), Name: name, Size: cw.n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func writeManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, SumsFile), []byte(SumsText(m)), 0o600)
}

// SumsText is the SHA256SUMS file for a manifest.
func SumsText(m *Manifest) string {
	var b strings.Builder
	for _, f := range m.Files {
		fmt.Fprintf(&b, "%s  %s\n", f.SHA256, f.Name)
	}
	return b.String()
}

// ErrNotASet means a directory holds no readable manifest.
var ErrNotASet = errors.New("not a snapshot set")

// ReadManifest loads and checks the shape of a set's manifest.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile)) // #nosec G304 -- the manifest of the set the operator named
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", dir, ErrNotASet, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", filepath.Join(dir, ManifestFile), ErrNotASet, err)
	}
	if m.Format != FormatVersion {
		return nil, fmt.Errorf("%s: format %d, this hstack reads %d", filepath.Join(dir, ManifestFile), m.Format, FormatVersion)
	}
	if len(m.Files) == 0 {
		return nil, fmt.Errorf("%s: %w: it lists no file", filepath.Join(dir, ManifestFile), ErrNotASet)
	}
	seen := map[string]bool{}
	for _, f := range m.Files {
		// A name is a plain file name: a manifest must not reach outside
		// its own directory.
		if f.Name == "" || f.Name != filepath.Base(f.Name) || f.Name == "." || f.Name == ".." {
			return nil, fmt.Errorf("%s: bad file name %q", filepath.Join(dir, ManifestFile), f.Name)
		}
		if seen[f.Product] {
			return nil, fmt.Errorf("%s: %s listed twice", filepath.Join(dir, ManifestFile), f.Product)
		}
		seen[f.Product] = true
	}
	return &m, nil
}

// Problem is one thing wrong with a set.
type Problem struct {
	File string `json:"file"`
	What string `json:"problem"`
}

func (p Problem) String() string { return p.File + ": " + p.What }

// CheckSums compares every file of a set with its manifest and with
// SHA256SUMS. It returns the problems found; none means the set is intact.
func CheckSums(dir string, m *Manifest) []Problem {
	var probs []Problem
	sums, err := os.ReadFile(filepath.Join(dir, SumsFile)) // #nosec G304 -- SHA256SUMS of the set the operator named
	if err != nil {
		probs = append(probs, Problem{SumsFile, "missing: " + err.Error()})
	} else if string(sums) != SumsText(m) {
		probs = append(probs, Problem{SumsFile, "does not match " + ManifestFile})
	}
	for _, f := range m.Files {
		size, sum, err := hashFile(filepath.Join(dir, f.Name))
		switch {
		case err != nil:
			probs = append(probs, Problem{f.Name, err.Error()})
		case sum != f.SHA256:
			probs = append(probs, Problem{f.Name, fmt.Sprintf("SHA-256 %s, the manifest says %s", sum, f.SHA256)})
		case size != f.Size:
			probs = append(probs, Problem{f.Name, fmt.Sprintf("%d bytes, the manifest says %d", size, f.Size)})
		}
	}
	sort.Slice(probs, func(i, j int) bool { return probs[i].File < probs[j].File })
	return probs
}

func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path) // #nosec G304 -- a file of the set; ReadManifest allows only plain names
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// ChecksumError is returned by Restore for a set whose files do not match.
type ChecksumError struct{ Problems []Problem }

func (e *ChecksumError) Error() string {
	s := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		s[i] = p.String()
	}
	return "the set does not match its checksums, nothing restored: " + strings.Join(s, "; ")
}

// Restore checks a set's checksums and then restores each product that has
// a snapshot in it, in the order given. It restores nothing when a checksum
// does not match, when a product it is given has no snapshot in the set, or
// when the set holds a product it was not given.
func Restore(ctx context.Context, dir string, progress func(product string), products ...Product) (*Manifest, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	if probs := CheckSums(dir, m); len(probs) > 0 {
		return m, &ChecksumError{Problems: probs}
	}
	byName := map[string]File{}
	for _, f := range m.Files {
		byName[f.Product] = f
	}
	given := map[string]bool{}
	for _, p := range products {
		given[p.Name()] = true
		if _, ok := byName[p.Name()]; !ok {
			return m, fmt.Errorf("the set has no %s snapshot, nothing restored", p.Name())
		}
	}
	for name := range byName {
		if !given[name] {
			return m, fmt.Errorf("the set holds a %s snapshot this hstack cannot restore, nothing restored", name)
		}
	}
	for _, p := range products {
		if progress != nil {
			progress(p.Name())
		}
		if err := restoreOne(ctx, dir, byName[p.Name()], p); err != nil {
			return m, fmt.Errorf("%s restore: %w", p.Name(), err)
		}
	}
	return m, nil
}

func restoreOne(ctx context.Context, dir string, f File, p Product) error {
	fh, err := os.Open(filepath.Join(dir, f.Name)) // #nosec G304 -- ReadManifest allows only plain names in the set
	if err != nil {
		return err
	}
	defer fh.Close()
	return p.Restore(ctx, fh)
}
