package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// One garbage collection at a time across every process sharing the
// storage (replicas on one bucket, `registry garbage-collect` beside a
// server) takes a lease: a small file created with a conditional write
// (S3 If-None-Match: *, a hard link on the filesystem), holding who has it
// and until when. The holder renews it while it works; a holder that died
// leaves a lease that expires, and the next collector replaces it with a
// compare-and-swap against the expired content, so two collectors taking
// over at once cannot both win. Releasing writes an expired lease the same
// way, so nothing ever deletes the file and no delete can race a create.

// gcLeasePath lies outside docker/, so registry:2 never sees it.
const gcLeasePath = "/.gc-lease"

// DefaultLeaseTTL is how long a garbage collection lease lasts unless
// renewed. The holder renews it every third of that.
const DefaultLeaseTTL = 5 * time.Minute

// Lease is the content of the lease file.
type Lease struct {
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
}

// ErrLeaseHeld is matched by a *LeaseHeldError.
var ErrLeaseHeld = errors.New("garbage collection lease held by another collector")

// ErrLeaseUnsupported reports a driver without ConditionalWriter: it
// cannot hold a lease, and collecting anyway could run two collections at
// once, so it is an error.
var ErrLeaseUnsupported = errors.New("storage driver cannot hold a lease (no conditional writes)")

// LeaseHeldError reports the lease another collector holds.
type LeaseHeldError struct{ Lease Lease }

// Error names the holder and the expiry.
func (e *LeaseHeldError) Error() string {
	return fmt.Sprintf("%v: %s, until %s", ErrLeaseHeld, e.Lease.Holder, e.Lease.Expires.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrLeaseHeld) hold.
func (e *LeaseHeldError) Is(target error) bool { return target == ErrLeaseHeld }

// HeldLease is a lease this process holds.
type HeldLease struct {
	cw      ConditionalWriter
	lease   Lease
	version string
}

// LeaseHolder returns a holder id naming this process: host, pid and a
// random part, so two processes never share one.
func LeaseHolder(program string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s on %s, pid %d (%s)", program, host, os.Getpid(), newUUID()[:8])
}

// AcquireGCLease takes the garbage collection lease for holder until
// now+ttl. A lease another holder has, not yet expired, is a
// *LeaseHeldError naming it; an expired one is taken over.
func (s *Store) AcquireGCLease(ctx context.Context, holder string, ttl time.Duration, now time.Time) (*HeldLease, error) {
	cw, ok := s.d.(ConditionalWriter)
	if !ok {
		return nil, ErrLeaseUnsupported
	}
	mine := Lease{Holder: holder, Expires: now.Add(ttl)}
	content, err := json.Marshal(mine)
	if err != nil {
		return nil, err
	}
	v, err := cw.PutContentIfNoneMatch(ctx, gcLeasePath, content)
	if err == nil {
		return &HeldLease{cw: cw, lease: mine, version: v}, nil
	}
	if !errors.Is(err, ErrPreconditionFailed) {
		return nil, fmt.Errorf("taking the garbage collection lease: %w", err)
	}
	old, version, err := cw.GetContentVersion(ctx, gcLeasePath)
	if err != nil {
		// Gone between the two calls is as good as held: one who
		// released just now may be starting again. Try next time.
		return nil, fmt.Errorf("reading the garbage collection lease: %w", err)
	}
	var cur Lease
	if err := json.Unmarshal(old, &cur); err != nil {
		return nil, fmt.Errorf("garbage collection lease %s is unreadable (%v); remove it if no collection is running", gcLeasePath, err)
	}
	if now.Before(cur.Expires) {
		return nil, &LeaseHeldError{Lease: cur}
	}
	v, err = cw.PutContentIfMatch(ctx, gcLeasePath, content, version)
	if errors.Is(err, ErrPreconditionFailed) {
		// Someone else took it over first; report who.
		if b, _, rerr := cw.GetContentVersion(ctx, gcLeasePath); rerr == nil && json.Unmarshal(b, &cur) == nil {
			return nil, &LeaseHeldError{Lease: cur}
		}
		return nil, fmt.Errorf("%w: taken over concurrently", ErrLeaseHeld)
	}
	if err != nil {
		return nil, fmt.Errorf("taking over the expired garbage collection lease: %w", err)
	}
	return &HeldLease{cw: cw, lease: mine, version: v}, nil
}

// Lease returns what the held lease says.
func (h *HeldLease) Lease() Lease { return h.lease }

// Renew extends the lease to now+ttl. It fails if the lease is no longer
// ours (it expired and was taken over): the caller must stop.
func (h *HeldLease) Renew(ctx context.Context, ttl time.Duration, now time.Time) error {
	next := Lease{Holder: h.lease.Holder, Expires: now.Add(ttl)}
	return h.replace(ctx, next)
}

// Release ends the lease by writing it expired, if it is still ours.
func (h *HeldLease) Release(ctx context.Context) error {
	return h.replace(ctx, Lease{Holder: h.lease.Holder})
}

func (h *HeldLease) replace(ctx context.Context, next Lease) error {
	content, err := json.Marshal(next)
	if err != nil {
		return err
	}
	v, err := h.cw.PutContentIfMatch(ctx, gcLeasePath, content, h.version)
	if err != nil {
		return fmt.Errorf("garbage collection lease lost: %w", err)
	}
	h.lease, h.version = next, v
	return nil
}

// keepLease renews lease every third of ttl until release is called,
// which then releases it. A failed renewal (the lease expired and another
// collector took it) cancels the returned context with the reason, which
// stops the collection at its next storage call.
func (s *Store) keepLease(ctx context.Context, lease *HeldLease, ttl time.Duration) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := make(chan struct{})
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if err := lease.Renew(ctx, ttl, time.Now()); err != nil {
					cancel(err)
					return
				}
			}
		}
	}()
	return ctx, func() {
		close(stop)
		<-renewed
		if err := lease.Release(context.WithoutCancel(ctx)); err != nil {
			s.log.Warn("storage: releasing the garbage collection lease", "err", err)
		}
		cancel(nil)
	}
}
