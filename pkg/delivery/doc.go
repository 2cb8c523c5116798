// Package delivery holds the tests of the delivery pipeline's files at the
// repository root: the GitHub Actions workflows (checked by actionlint),
// the GoReleaser configuration (checked by goreleaser itself) and the
// pingapp Dockerfile. It has no code of its own: the files are the product.
package delivery
