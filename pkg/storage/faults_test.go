package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// errInjected is what faultDriver fails with: an I/O error that is not
// "not found", such as an S3 503.
var errInjected = errors.New("injected I/O error")

// faultDriver wraps a driver and fails every Nth call of the chosen
// operations on paths containing match. It counts deletes before and after
// the first fault, which is what failing closed is about: once an error is
// seen, nothing more may be deleted.
type faultDriver struct {
	Driver
	ops   map[string]bool // "GetContent", "Stat", "List"
	match string
	every int

	mu                 sync.Mutex
	calls, faults      int
	deletesBeforeFault int
	deletesAfterFault  int
}

func (d *faultDriver) fault(op, p string) error {
	if !d.ops[op] || !strings.Contains(p, d.match) {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if d.calls%d.every != 0 {
		return nil
	}
	d.faults++
	return fmt.Errorf("%s %s: %w", op, p, errInjected)
}

func (d *faultDriver) GetContent(ctx context.Context, p string) ([]byte, error) {
	if err := d.fault("GetContent", p); err != nil {
		return nil, err
	}
	return d.Driver.GetContent(ctx, p)
}

func (d *faultDriver) Stat(ctx context.Context, p string) (FileInfo, error) {
	if err := d.fault("Stat", p); err != nil {
		return FileInfo{}, err
	}
	return d.Driver.Stat(ctx, p)
}

func (d *faultDriver) List(ctx context.Context, p string) ([]string, error) {
	if err := d.fault("List", p); err != nil {
		return nil, err
	}
	return d.Driver.List(ctx, p)
}

func (d *faultDriver) Delete(ctx context.Context, p string) error {
	d.mu.Lock()
	if d.faults == 0 {
		d.deletesBeforeFault++
	} else {
		d.deletesAfterFault++
	}
	d.mu.Unlock()
	return d.Driver.Delete(ctx, p)
}
