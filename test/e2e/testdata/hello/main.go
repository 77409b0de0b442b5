// Command hello is the program inside the e2e test images: a static binary
// that says which platform it was built for, so a test can tell which image
// of a multi-arch index docker ran.
package main

import (
	"fmt"
	"runtime"
)

func main() {
	fmt.Printf("hello from wharf e2e (%s/%s)\n", runtime.GOOS, runtime.GOARCH)
}
