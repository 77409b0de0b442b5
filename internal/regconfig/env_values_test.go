package regconfig

import (
	"reflect"
	"strings"
	"testing"
)

func TestBadEnvironmentValuesAreErrors(t *testing.T) {
	tests := []struct {
		env      string
		contains string
	}{
		{"REGISTRY_STORAGE_DELETE_ENABLED=maybe", "bool"},
		{"REGISTRY_AUTH=ldap", `unknown auth mode "ldap"`},
		{"REGISTRY_STORAGE=gcs", `unsupported storage driver "gcs"`},
		{"REGISTRY_HEALTH_STORAGEDRIVER_INTERVAL=often", "invalid duration"},
		{"REGISTRY_HEALTH_STORAGEDRIVER_THRESHOLD=three", "int"},
		{"REGISTRY_HTTP_TLS={certificate: a, kye: b}", "kye"},
	}
	for _, tt := range tests {
		name, _, _ := strings.Cut(tt.env, "=")
		t.Run(name, func(t *testing.T) {
			_, err := Load("", []string{tt.env})
			ps := problems(t, err)
			if len(ps) != 1 || ps[0].Field != name || !strings.Contains(ps[0].Msg, tt.contains) {
				t.Errorf("want one problem for %s containing %q, got:\n%v", name, tt.contains, err)
			}
		})
	}
}

func TestEnvironmentValuesAreYAML(t *testing.T) {
	tests := []struct {
		env  string
		get  func(*Config) any
		want any
	}{
		{`REGISTRY_HTTP_HOST="https://r.example"`, func(c *Config) any { return c.HTTP.Host }, "https://r.example"},
		{`REGISTRY_HTTP_SECRET=a: b #c`, func(c *Config) any { return c.HTTP.Secret }, "a: b #c"},
		{`REGISTRY_HTTP_SECRET='quoted'`, func(c *Config) any { return c.HTTP.Secret }, "quoted"},
		{`REGISTRY_STORAGE_DELETE_ENABLED=True`, func(c *Config) any { return c.Storage.Delete.Enabled }, true},
		{`REGISTRY_HTTP_TLS_CLIENTCAS=[]`, func(c *Config) any { return len(c.HTTP.TLS.ClientCAs) }, 0},
		{`REGISTRY_HEALTH_STORAGEDRIVER_THRESHOLD=5`, func(c *Config) any { return c.Health.StorageDriver.Threshold }, 5},
		{`REGISTRY_HTTP_HEADERS_X-Frame-Options=DENY`, func(c *Config) any { return c.HTTP.Headers["X-Frame-Options"] }, []string{"DENY"}},
		{`REGISTRY_STORAGE=filesystem`, func(c *Config) any { return c.Storage.Filesystem.RootDirectory }, "/var/lib/registry"},
		{`REGISTRY_STORAGE_FILESYSTEM={rootdirectory: /data}`, func(c *Config) any { return c.Storage.Filesystem.RootDirectory }, "/data"},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			c, err := Load("", []string{tt.env})
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.get(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}
