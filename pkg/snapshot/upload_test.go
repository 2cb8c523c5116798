package snapshot

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

type fakeS3 struct {
	keys   []string
	bodies map[string]string
	in     []*s3.PutObjectInput
}

func (f *fakeS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	b, _ := io.ReadAll(in.Body)
	f.keys = append(f.keys, *in.Key)
	f.bodies[*in.Key] = string(b)
	f.in = append(f.in, in)
	return &s3.PutObjectOutput{}, nil
}

func TestUploadPutsTheManifestLast(t *testing.T) {
	dir, m := save(t, &fake{name: "nomad", state: []byte("n")}, &fake{name: "vault", state: []byte("v")})
	f := &fakeS3{bodies: map[string]string{}}
	if _, err := Upload(context.Background(), f, dir, "shop-snapshots", "prod/cluster", m); err != nil {
		t.Fatal(err)
	}
	want := "prod/cluster/hstack-snapshot-20261201T213005Z/"
	got := strings.Join(f.keys, " ")
	if got != want+"nomad.snap "+want+"vault.snap "+want+"SHA256SUMS "+want+"manifest.json" {
		t.Errorf("keys %s", got)
	}
	if f.bodies[want+"vault.snap"] != "v" {
		t.Errorf("body %q", f.bodies[want+"vault.snap"])
	}
	for _, in := range f.in {
		if *in.Bucket != "shop-snapshots" || in.ServerSideEncryption != types.ServerSideEncryptionAwsKms || in.ChecksumAlgorithm != types.ChecksumAlgorithmSha256 {
			t.Errorf("put %+v", in)
		}
	}
}

func TestParseS3URL(t *testing.T) {
	if b, p, err := ParseS3URL("s3://shop-snapshots/prod/"); err != nil || b != "shop-snapshots" || p != "prod" {
		t.Errorf("%s %s %v", b, p, err)
	}
	for _, bad := range []string{"shop", "https://x/y", "s3:///x"} {
		if _, _, err := ParseS3URL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
