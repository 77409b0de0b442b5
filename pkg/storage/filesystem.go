package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// maxContentSize bounds GetContent, which is meant for links, manifests and
// hash states, so a damaged store cannot make it read gigabytes into memory.
const maxContentSize = 32 << 20

// FilesystemDriver is a Driver over a local directory, laid out exactly as
// distribution's filesystem driver lays it out.
type FilesystemDriver struct {
	root string
}

var (
	_ Driver     = (*FilesystemDriver)(nil)
	_ FileOpener = (*FilesystemDriver)(nil)
	_ Toucher    = (*FilesystemDriver)(nil)
)

// NewFilesystemDriver returns a driver rooted at root, creating it if missing.
func NewFilesystemDriver(root string) (*FilesystemDriver, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("storage root %q: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("storage root: %w", err)
	}
	return &FilesystemDriver{root: abs}, nil
}

// Root returns the directory the driver serves.
func (d *FilesystemDriver) Root() string { return d.root }

// checkPath enforces the driver path grammar. Store builds paths only from
// validated names, so this is the second line of defence against traversal.
func checkPath(p string) error {
	if p == "/" {
		return nil
	}
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("%w: %q is not absolute", ErrInvalidPath, p)
	}
	for _, c := range strings.Split(p[1:], "/") {
		if c == "" || c == "." || c == ".." {
			return fmt.Errorf("%w: %q", ErrInvalidPath, p)
		}
		for i := 0; i < len(c); i++ {
			b := c[i]
			if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == '-') {
				return fmt.Errorf("%w: %q", ErrInvalidPath, p)
			}
		}
	}
	return nil
}

func (d *FilesystemDriver) full(p string) (string, error) {
	if err := checkPath(p); err != nil {
		return "", err
	}
	return filepath.Join(d.root, filepath.FromSlash(p)), nil
}

// wrap turns "does not exist" into ErrPathNotFound and names the path.
func wrap(p string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%w: %s", ErrPathNotFound, p)
	}
	return fmt.Errorf("storage %s: %w", p, err)
}

// GetContent returns the content of a file of at most 32 MiB.
func (d *FilesystemDriver) GetContent(_ context.Context, p string) ([]byte, error) {
	fp, err := d.full(p)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(fp)
	if err != nil {
		return nil, wrap(p, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxContentSize+1))
	if err != nil {
		return nil, wrap(p, err)
	}
	if len(b) > maxContentSize {
		return nil, fmt.Errorf("storage %s: larger than %d bytes", p, maxContentSize)
	}
	return b, nil
}

// PutContent writes a temporary file in the same directory, syncs it,
// renames it over p and syncs the directory, so a crash leaves either the
// old or the new content and never a partial file under p.
func (d *FilesystemDriver) PutContent(_ context.Context, p string, content []byte) error {
	return d.put(p, content, true)
}

// putScratch is PutContent without the syncs (see scratchPutter): readers
// still see the old content or the whole new one, never a partial file,
// but a crash may lose the new content or leave the file empty.
func (d *FilesystemDriver) putScratch(p string, content []byte) error {
	return d.put(p, content, false)
}

// put replaces p through a temporary file and a rename; durable adds the
// file and directory syncs that make the result survive a crash.
func (d *FilesystemDriver) put(p string, content []byte, durable bool) error {
	return d.putWith(p, content, durable, os.Rename)
}

// putWith writes content to a temporary file beside p and calls install to
// put it in place (a rename, or a link that fails if p exists); install
// leaves no temporary file behind when it succeeds.
func (d *FilesystemDriver) putWith(p string, content []byte, durable bool, install func(tmp, fp string) error) error {
	fp, err := d.full(p)
	if err != nil {
		return err
	}
	dir := filepath.Dir(fp)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return wrap(p, err)
	}
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(fp)+"-*")
	if err != nil {
		return wrap(p, err)
	}
	tmp := f.Name()
	err = func() error {
		defer f.Close()
		if _, err := f.Write(content); err != nil {
			return err
		}
		// CreateTemp makes 0600 files; registry:2 may run as another user.
		if err := f.Chmod(0o644); err != nil {
			return err
		}
		if durable {
			if err := f.Sync(); err != nil {
				return err
			}
		}
		return f.Close()
	}()
	if err == nil {
		err = install(tmp, fp)
	}
	if err != nil {
		os.Remove(tmp)
		return wrap(p, err)
	}
	if !durable {
		return nil
	}
	return wrap(p, syncDir(dir))
}

// syncDir makes a rename or creation in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// Reader opens p positioned at offset.
func (d *FilesystemDriver) Reader(_ context.Context, p string, offset int64) (io.ReadCloser, error) {
	fp, err := d.full(p)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(fp)
	if err != nil {
		return nil, wrap(p, err)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, wrap(p, err)
	}
	return f, nil
}

// OpenFile opens p for reading as an *os.File, for sendfile.
func (d *FilesystemDriver) OpenFile(_ context.Context, p string) (*os.File, error) {
	fp, err := d.full(p)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(fp)
	return f, wrap(p, err)
}

// Stat describes p.
func (d *FilesystemDriver) Stat(_ context.Context, p string) (FileInfo, error) {
	fp, err := d.full(p)
	if err != nil {
		return FileInfo{}, err
	}
	fi, err := os.Stat(fp)
	if err != nil {
		return FileInfo{}, wrap(p, err)
	}
	return FileInfo{Path: p, Size: fi.Size(), ModTime: fi.ModTime(), IsDir: fi.IsDir()}, nil
}

// List returns the sorted full paths of p's children.
func (d *FilesystemDriver) List(_ context.Context, p string) ([]string, error) {
	fp, err := d.full(p)
	if err != nil {
		return nil, err
	}
	// Names only, joined by hand: tag listings read directories of
	// thousands of entries on every page, and os.ReadDir's DirEntry sort
	// and path.Join's cleaning cost more than the system calls. p is
	// already clean and a directory entry's name holds no '/'.
	f, err := os.Open(fp)
	if err != nil {
		return nil, wrap(p, err)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, wrap(p, err)
	}
	sort.Strings(names)
	prefix := p + "/"
	if p == "/" {
		prefix = "/"
	}
	for i, n := range names {
		names[i] = prefix + n
	}
	return names, nil
}

// Move renames src to dst, creating dst's directory, and syncs it.
func (d *FilesystemDriver) Move(_ context.Context, src, dst string) error {
	fs, err := d.full(src)
	if err != nil {
		return err
	}
	fd, err := d.full(dst)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(fd), 0o755); err != nil {
		return wrap(dst, err)
	}
	if err := os.Rename(fs, fd); err != nil {
		return wrap(src, err)
	}
	return wrap(dst, syncDir(filepath.Dir(fd)))
}

// Delete removes p recursively; a missing p is ErrPathNotFound.
func (d *FilesystemDriver) Delete(_ context.Context, p string) error {
	fp, err := d.full(p)
	if err != nil {
		return err
	}
	if p == "/" {
		return fmt.Errorf("%w: refusing to delete the root", ErrInvalidPath)
	}
	if _, err := os.Lstat(fp); err != nil {
		return wrap(p, err)
	}
	return wrap(p, os.RemoveAll(fp))
}

// Touch sets p's modification time to now.
func (d *FilesystemDriver) Touch(_ context.Context, p string) error {
	fp, err := d.full(p)
	if err != nil {
		return err
	}
	now := time.Now()
	return wrap(p, os.Chtimes(fp, now, now))
}

// Walk visits everything under p in lexical order. Entries that vanish
// during the walk (concurrent deletes are normal while serving) are skipped.
func (d *FilesystemDriver) Walk(ctx context.Context, p string, fn WalkFunc) error {
	fp, err := d.full(p)
	if err != nil {
		return err
	}
	if _, err := os.Stat(fp); err != nil {
		return wrap(p, err)
	}
	return filepath.WalkDir(fp, func(name string, de fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if name == fp {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		info, err := de.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, err := filepath.Rel(d.root, name)
		if err != nil {
			return err
		}
		fi := FileInfo{Path: "/" + filepath.ToSlash(rel), Size: info.Size(), ModTime: info.ModTime(), IsDir: de.IsDir()}
		if err := fn(fi); err != nil {
			if errors.Is(err, ErrSkipDir) {
				if de.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			return err
		}
		return nil
	})
}
