# pingapp as a container image: a static binary on distroless, run as an
# unprivileged user. Production jobs run it with a read-only root
# filesystem (only /tmp is a tmpfs) and Nomad's Consul checks on /readyz,
# so the image has no HEALTHCHECK, no shell and nothing it writes to.
#
#   docker build --build-arg VERSION=1.2.0 --build-arg COMMIT=$(git rev-parse --short HEAD) -t pingapp:1.2.0 .

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Dependencies first: the layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath \
      -ldflags "-s -w -X github.com/hstack-dev/hstack/pkg/pingapp.Version=${VERSION} -X github.com/hstack-dev/hstack/pkg/pingapp.Commit=${COMMIT}" \
      -o /out/pingapp ./cmd/pingapp

# static-debian12: CA certificates and tzdata, no libc, no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/pingapp /pingapp
# The uid the rendered production job runs the task as (user = "65534:65534").
USER 65534:65534
EXPOSE 8080
ENTRYPOINT ["/pingapp"]
CMD ["-listen", "0.0.0.0:8080"]
