package acl

import (
	"net/netip"
	"testing"
)

func TestLabelsCondition(t *testing.T) {
	a := compileYAML(t, `
acl:
  - match: {labels: {"group": "VIP"}}
    actions: ["push"]
  - match: {labels: {"group": "/trainee|dev/", "site": "eu-*"}}
    actions: ["push", "pull"]
  - match: {labels: {"owner": "${account}"}}
    actions: ["delete"]
`)
	req := func(account string, labels map[string][]string) Request {
		r := repo(account, "app", all...)
		r.Labels = labels
		return r
	}
	runChecks(t, a, []check{
		{"one of several values matches", req("u", map[string][]string{"group": {"staff", "VIP"}}), []string{"push"}, 0},
		{"glob is anchored", req("u", map[string][]string{"group": {"VIPs"}}), nil, -1},
		{"every listed label must match", req("u", map[string][]string{"group": {"dev"}, "site": {"eu-west"}}), []string{"pull", "push"}, 1},
		{"a missing label fails", req("u", map[string][]string{"group": {"dev"}}), nil, -1},
		{"a non-matching label fails", req("u", map[string][]string{"group": {"dev"}, "site": {"us-east"}}), nil, -1},
		{"placeholder in a label pattern", req("gil", map[string][]string{"owner": {"gil"}}), []string{"delete"}, 2},
		{"placeholder in a label pattern, other user", req("hal", map[string][]string{"owner": {"gil"}}), nil, -1},
		{"no labels", req("u", nil), nil, -1},
	})
}

func TestIPConditions(t *testing.T) {
	a := compileYAML(t, `
acl:
  - match: {ip: "127.0.0.1"}
    actions: ["*"]
  - match: {ip: "10.0.0.0/8"}
    actions: ["push"]
  - match: {ip: "2001:db8::1"}
    actions: ["delete"]
  - match: {ip: "2001:db8:1::/48"}
    actions: ["pull"]
  - match: {ip: "::ffff:192.168.0.0/112"}
    actions: ["push", "pull"]
`)
	at := func(ip string) Request {
		r := repo("u", "app", "pull", "push", "delete")
		if ip != "" {
			r.IP = netip.MustParseAddr(ip)
		}
		return r
	}
	runChecks(t, a, []check{
		{"exact v4", at("127.0.0.1"), []string{"delete", "pull", "push"}, 0},
		{"other v4 address", at("127.0.0.2"), nil, -1},
		{"v4-mapped v6 address counts as v4", at("::ffff:127.0.0.1"), []string{"delete", "pull", "push"}, 0},
		{"inside v4 CIDR", at("10.20.30.40"), []string{"push"}, 1},
		{"outside v4 CIDR", at("11.0.0.1"), nil, -1},
		{"exact v6", at("2001:db8::1"), []string{"delete"}, 2},
		{"exact v6 with zone", at("2001:db8::1%eth0"), []string{"delete"}, 2},
		{"other v6 address", at("2001:db8::2"), nil, -1},
		{"inside v6 CIDR", at("2001:db8:1:2::5"), []string{"pull"}, 3},
		{"outside v6 CIDR", at("2001:db8:2::5"), nil, -1},
		{"v4-mapped CIDR counts as v4", at("192.168.7.8"), []string{"pull", "push"}, 4},
		{"outside v4-mapped CIDR", at("192.169.0.1"), nil, -1},
		{"unknown address never matches", at(""), nil, -1},
	})
}
