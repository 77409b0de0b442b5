package regconfig

import (
	"strings"
	"testing"
)

// The web UI is our addition: off unless ui.enabled is true in the file or
// REGISTRY_UI_ENABLED says so, and a typo under ui: is an error like any
// other unknown key.
func TestUIIsOffByDefaultAndTurnedOnByFileOrEnvironment(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  []string
		want bool
	}{
		{"default", "version: 0.1\n", nil, false},
		{"file", "ui:\n  enabled: true\n", nil, true},
		{"environment", "version: 0.1\n", []string{"REGISTRY_UI_ENABLED=true"}, true},
		{"environment overrides file", "ui:\n  enabled: true\n", []string{"REGISTRY_UI_ENABLED=false"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(writeFile(t, t.TempDir(), "config.yml", tt.file), tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if c.UI.Enabled != tt.want {
				t.Errorf("ui.enabled = %v, want %v", c.UI.Enabled, tt.want)
			}
		})
	}
	t.Run("unknown key", func(t *testing.T) {
		_, err := Load(writeFile(t, t.TempDir(), "config.yml", "ui:\n  enabeld: true\n"), nil)
		if err == nil || !strings.Contains(err.Error(), "ui.enabeld") {
			t.Fatalf("err = %v, want one naming ui.enabeld", err)
		}
	})
}
