package snapshot

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3API is the part of the S3 client an upload needs.
type S3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// ParseS3URL splits s3://bucket/prefix.
func ParseS3URL(s string) (bucket, prefix string, err error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return "", "", fmt.Errorf("%q is not an s3://BUCKET[/PREFIX] URL", s)
	}
	return u.Host, strings.Trim(u.Path, "/"), nil
}

// Upload copies a set to s3://bucket/prefix/<set name>/, the snapshots
// first and the manifest and sums last, so a set whose manifest is in the
// bucket is whole there too. Objects are encrypted at rest with the
// bucket's KMS key and carry their SHA-256, which S3 checks on receipt.
func Upload(ctx context.Context, api S3API, dir, bucket, prefix string, m *Manifest) ([]string, error) {
	set := filepath.Base(dir)
	var names []string
	for _, f := range m.Files {
		names = append(names, f.Name)
	}
	names = append(names, SumsFile, ManifestFile)
	var keys []string
	for _, n := range names {
		key := path.Join(prefix, set, n)
		fh, err := os.Open(filepath.Join(dir, n)) // #nosec G304 -- the set's own files: plain names from ReadManifest, SHA256SUMS, the manifest
		if err != nil {
			return keys, err
		}
		in := &s3.PutObjectInput{
			Bucket:               aws.String(bucket),
			Key:                  aws.String(key),
			Body:                 fh,
			ServerSideEncryption: types.ServerSideEncryptionAwsKms,
			ChecksumAlgorithm:    types.ChecksumAlgorithmSha256,
		}
		_, err = api.PutObject(ctx, in)
		_ = fh.Close() // read only: PutObject's error is the one that counts
		if err != nil {
			return keys, fmt.Errorf("s3://%s/%s: %w", bucket, key, err)
		}
		keys = append(keys, key)
	}
	return keys, nil
}
