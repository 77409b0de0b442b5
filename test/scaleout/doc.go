// Package scaleout tests the registry scaled out as issue 7 asks: three
// `registry serve` processes (the built binary) on one bucket of a real S3
// server, behind a small round-robin reverse proxy, and two `auth`
// processes sharing one configuration and key.
//
// The S3 servers are versitygw and MinIO, found as pkg/storage/s3's tests
// find them (WHARF_VERSITYGW / WHARF_MINIO, then PATH, then
// $(go env GOPATH)/bin; `scripts/s3-servers.sh install` installs both).
// Tests needing one that is not installed skip with that hint. No fake S3
// is involved anywhere.
//
// The package holds only tests:
//
//	go test ./test/scaleout/
//
// and its throughput figures for BENCHMARKS.md come from
//
//	go test -run '^$' -bench . -benchtime 1x ./test/scaleout/
package scaleout
