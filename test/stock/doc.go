// Package stock runs our programs beside the stock CNCF registries that
// they claim to be compatible with: registry:2 v2.8.3 and registry:3 v3.1.1,
// built from the Go module proxy by scripts/stock-registries.sh.
//
// Two claims are proven here, against each stock registry:
//   - our auth in front of the stock registry: the stock registry trusts
//     the tokens our auth issues, through the token flow a real client
//     (go-containerregistry) runs, with each kid form that registry reads;
//   - one data directory, either program: what one wrote to its filesystem
//     storage, the other serves as it is.
//
// A stock registry that is not installed fails the tests: a compatibility
// claim whose other side is absent is unproven, never skipped.
package stock
