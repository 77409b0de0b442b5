package s3

import (
	"errors"
	"fmt"

	"github.com/aws/smithy-go"

	"github.com/wharf-registry/wharf/pkg/storage"
)

// wrap turns S3's "no such key" into storage.ErrPathNotFound and names the
// path in every other error, keeping the S3 error inspectable.
func wrap(p string, err error) error {
	if err == nil {
		return nil
	}
	if isNotFound(err) {
		return fmt.Errorf("%w: %s", storage.ErrPathNotFound, p)
	}
	return fmt.Errorf("storage %s: %w", p, err)
}

// isNotFound recognises a missing key. HEAD responses carry no body, so
// S3 can only say "NotFound" there.
func isNotFound(err error) bool {
	return hasCode(err, "NoSuchKey", "NotFound")
}

func isPreconditionFailed(err error) bool {
	// 412 from a conditional write; ConditionalRequestConflict (409) is
	// AWS's answer when a competing conditional write is in flight.
	return hasCode(err, "PreconditionFailed", "ConditionalRequestConflict")
}

// hasCode reports whether err is an S3 error with one of the codes.
func hasCode(err error, codes ...string) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	for _, c := range codes {
		if ae.ErrorCode() == c {
			return true
		}
	}
	return false
}

// ErrConcurrentWrite reports a file changed by someone else between our
// reading its state and writing the next one: two writers raced on it.
var ErrConcurrentWrite = errors.New("storage: file changed concurrently")

// errBusy reports a file whose in-progress upload kept changing while we
// tried to complete it: another process is writing it right now.
func errBusy(p string) error {
	return fmt.Errorf("storage %s: %w", p, ErrConcurrentWrite)
}
