// Package buildinfo tells which version of the code a binary was built from,
// for both programs' --version and startup log lines.
package buildinfo

import "runtime/debug"

// Version returns override when set (by -ldflags "-X main.version=..."),
// else the module version Go recorded, followed by the first 12 characters of
// the VCS revision when the build had one.
func Version(override string) string {
	if override != "" {
		return override
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}
