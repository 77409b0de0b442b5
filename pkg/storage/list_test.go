package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestListReturnsSortedFullPathsOfChildren(t *testing.T) {
	d, err := NewFilesystemDriver(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Created out of order, with names whose byte order differs from any
	// creation or hash order a directory might return them in.
	var want []string
	for _, i := range []int{7, 3, 11, 0, 42, 5, 19, 1} {
		p := fmt.Sprintf("/tags/t-%d/current/link", i)
		if err := d.PutContent(ctx, p, []byte("x")); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("/tags/t-%d", i))
	}
	slices.Sort(want)
	if err := d.PutContent(ctx, "/file", nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dir  string
		want []string
	}{
		{"/tags", want},
		{"/", []string{"/file", "/tags"}},
		{"/tags/t-42/current", []string{"/tags/t-42/current/link"}},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			got, err := d.List(ctx, tc.dir)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("List(%q) = %q, %v; want %q", tc.dir, got, err, tc.want)
			}
		})
	}
	for _, p := range []string{"/missing", "/file", "/tags/t-42/current/link"} {
		t.Run("not a directory "+p, func(t *testing.T) {
			if _, err := d.List(ctx, p); !errors.Is(err, ErrPathNotFound) {
				t.Errorf("List(%q) = %v, want ErrPathNotFound", p, err)
			}
		})
	}
}
