package testkit

import "sync"

// AtOnce runs f(0), ..., f(n-1) in n goroutines released together, as n
// processes racing for one thing, and returns their errors by index.
func AtOnce(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}
