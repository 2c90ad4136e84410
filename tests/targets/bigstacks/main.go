// Command bigstacks parks many goroutines on many distinct stacks and serves net/http/pprof, so
// benchmarks get large, real goroutine profiles (scripts/capture-bench-dumps.sh):
//
//	bigstacks -goroutines 10000 -stacks 2000    # ~10k goroutines in ~2,000 distinct stacks
//	bigstacks -goroutines 100000 -stacks 50     # ~100k goroutines in ~50 groups
//
// Stack variant v (0 <= v < stacks) is a padding recursion of -pad frames, then a binary path: at each of
// ceil(log2(stacks)) levels the goroutine calls left or right according to one bit of v (each call site
// its own line, so every path is a distinct stack), then a leaf that blocks in one of five ways picked by
// v. Every goroutine of one variant has the same stack, so the profile has exactly -stacks groups plus
// the process's own few (main, the HTTP server, the profiling request).
//
// The first stdout line is "listening HOST:PORT", printed once every goroutine has reached its leaf
// (plus a short settle delay for the last ones to actually park).
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

var (
	never   = make(chan struct{}) // never closed, never sent on
	neverTx = make(chan int)      // never received from
	held    sync.Mutex            // locked by main forever
	wg      sync.WaitGroup        // Add(1) by main, never Done
	ready   atomic.Int64          // goroutines that reached their leaf
)

//go:noinline
func leafRecv() { <-never }

//go:noinline
func leafSend() { neverTx <- 1 }

//go:noinline
func leafSelect() {
	select {
	case <-never:
	case neverTx <- 1:
	}
}

//go:noinline
func leafMutex() {
	held.Lock()
	held.Unlock()
}

//go:noinline
func leafWait() { wg.Wait() }

//go:noinline
func leaf(v int) {
	ready.Add(1)
	switch v % 5 {
	case 0:
		leafRecv()
	case 1:
		leafSend()
	case 2:
		leafSelect()
	case 3:
		leafMutex()
	default:
		leafWait()
	}
}

// left and right consume one bit of `bits` per level, highest first; level counts down to 0.

//go:noinline
func left(v, bits, level int) int {
	if level == 0 {
		leaf(v)
		return 0
	}
	if (bits>>(level-1))&1 == 0 {
		return left(v, bits, level-1) + 1
	}
	return right(v, bits, level-1) + 1
}

//go:noinline
func right(v, bits, level int) int {
	if level == 0 {
		leaf(v)
		return 0
	}
	if (bits>>(level-1))&1 == 0 {
		return left(v, bits, level-1) + 2
	}
	return right(v, bits, level-1) + 2
}

//go:noinline
func pad(v, bits, level, n int) int {
	if n == 0 {
		return left(v, bits, level)
	}
	return pad(v, bits, level, n-1) + 1 // not a tail call: one frame per level
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bigstacks:", err)
	os.Exit(1)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address for the pprof HTTP server")
	goroutines := flag.Int("goroutines", 10000, "goroutines to park")
	stacks := flag.Int("stacks", 2000, "distinct stacks to spread them over")
	padding := flag.Int("pad", 8, "padding frames below the distinguishing part of every stack")
	flag.Parse()
	if *goroutines < 1 || *stacks < 1 || *stacks > *goroutines || *padding < 0 {
		fatal(fmt.Errorf("need 1 <= -stacks <= -goroutines and -pad >= 0"))
	}
	levels := 0
	for (1 << levels) < *stacks {
		levels++
	}

	held.Lock()
	wg.Add(1)
	for i := 0; i < *goroutines; i++ {
		v := i % *stacks
		go pad(v, v, levels, *padding)
	}

	deadline := time.Now().Add(60 * time.Second)
	for ready.Load() < int64(*goroutines) {
		if time.Now().After(deadline) {
			fatal(fmt.Errorf("only %d of %d goroutines reached their leaf in 60s", ready.Load(), *goroutines))
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the last ones go from ready.Add to parked
	runtime.GC()

	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", httppprof.Index)
	mux.HandleFunc("/goroutines", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "%d\n", runtime.NumGoroutine())
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fatal(err)
	}
	fmt.Printf("listening %s\n", ln.Addr())
	fatal(http.Serve(ln, mux))
}
