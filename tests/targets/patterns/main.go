// Command patterns parks goroutines in every blocking pattern leakwatch has to recognise and serves
// net/http/pprof, so tests and scripts/capture-pprof-testdata.sh get real goroutine profiles from the
// Go toolchain instead of hand-written ones.
//
//	patterns -listen 127.0.0.1:0 -n 3
//
// The first stdout line is "listening HOST:PORT", printed only once every pattern goroutine is parked,
// so a profile taken after reading it shows each goroutine at its blocking point. Endpoints:
// /debug/pprof/... and /goroutines (runtime.NumGoroutine() as text).
//
// Every pattern function is its own named, non-inlined function so its frame (function, file, line) is
// stable in the dumps the tests assert on; change line numbers here only together with the testdata.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"
)

// never is closed by nobody: every "wait forever" below waits on it or on a private channel.
var never = make(chan struct{})

//go:noinline
func chanSend(ch chan<- int) {
	ch <- 1 // nobody ever receives
}

//go:noinline
func chanRecv(ch <-chan int) {
	<-ch // nobody ever sends
}

//go:noinline
func selectTwo(a, b <-chan int) {
	select {
	case <-a:
	case <-b:
	}
}

//go:noinline
func selectNoCases() {
	select {}
}

//go:noinline
func nilChanRecv() {
	var ch chan int
	<-ch
}

//go:noinline
func mutexLock(mu *sync.Mutex) {
	mu.Lock() // main holds mu forever
	mu.Unlock()
}

//go:noinline
func rwmutexRLock(rw *sync.RWMutex) {
	rw.RLock() // main holds the write lock forever
	rw.RUnlock()
}

//go:noinline
func rwmutexLock(rw *sync.RWMutex) {
	rw.Lock()
	rw.Unlock()
}

//go:noinline
func waitGroupWait(wg *sync.WaitGroup) {
	wg.Wait() // Done is never called
}

//go:noinline
func condWait(c *sync.Cond) {
	c.L.Lock()
	c.Wait() // never signalled
	c.L.Unlock()
}

//go:noinline
func sleepLong() {
	time.Sleep(24 * time.Hour)
}

//go:noinline
func ioRead(c net.Conn) {
	var buf [1]byte
	_, _ = c.Read(buf[:]) // the peer never writes
}

//go:noinline
func labeledWait(labels pprof.LabelSet) {
	pprof.Do(context.Background(), labels, func(context.Context) {
		<-never
	})
}

//go:noinline
func deepRecursion(n int) int {
	if n == 0 {
		<-never
		return 0
	}
	return deepRecursion(n-1) + 1 // not a tail call: keeps one frame per level
}

// recvInlined is small enough to be inlined into inlineCaller: the profile shows it as its own frame
// with a synthetic PC (check with `go build -gcflags=-m`).
func recvInlined(ch <-chan int) int {
	return <-ch
}

//go:noinline
func inlineCaller(ch <-chan int) int {
	return recvInlined(ch) + 1
}

//go:noinline
func genericWait[T any](ch <-chan T) T {
	return <-ch
}

//go:noinline
func startClosure(ch <-chan int) {
	go func() {
		<-ch
	}()
}

// Labels as pprof.Do sets them; the odd ones exercise every escape Go's %q produces in debug=1.
var labelSets = []pprof.LabelSet{
	pprof.Labels("job", "ingest", "tenant", "acme"),
	pprof.Labels("k", "sp ace\"q\\b\nnl\té"),
	pprof.Labels("ctl", "\a\b\f\r\v\x00\x7f", "bytes", "\xff\xfe", "uni", "\u200b|\U000e0001|🙂", "ключ", "値"),
	pprof.Labels(), // prints as "# labels: {}"
}

// kPlainPatterns counts the unlabelled go statements in one round of start; keep it in sync.
const kPlainPatterns = 16

// start launches n goroutines per pattern and returns how many it launched.
func start(n, depth int) (expected int) {
	var mu sync.Mutex
	mu.Lock()
	var rw sync.RWMutex
	rw.Lock()
	var wg sync.WaitGroup
	wg.Add(1)
	cond := sync.NewCond(&sync.Mutex{})

	conns := dialPairs(n)

	for i := 0; i < n; i++ {
		go chanSend(make(chan int))
		go chanRecv(make(chan int))
		go selectTwo(make(chan int), make(chan int))
		go selectNoCases()
		go nilChanRecv()
		go mutexLock(&mu)
		go rwmutexRLock(&rw)
		go rwmutexLock(&rw)
		go waitGroupWait(&wg)
		go condWait(cond)
		go sleepLong()
		go ioRead(conns[i])
		for _, ls := range labelSets {
			go labeledWait(ls)
		}
		go deepRecursion(depth)
		go inlineCaller(make(chan int))
		go genericWait[string](make(chan string))
		startClosure(make(chan int))
	}
	return n * (kPlainPatterns + len(labelSets))
}

// dialPairs returns n client ends of loopback TCP connections whose server ends are kept open (in a
// package variable) and never written, so reads on them park in the netpoller.
var serverEnds []net.Conn

func dialPairs(n int) []net.Conn {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal(err)
	}
	defer ln.Close()
	clients := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			fatal(err)
		}
		clients = append(clients, c)
		serverEnds = append(serverEnds, s)
	}
	return clients
}

// waitParked returns once at least want goroutines exist and none of them is still runnable, so every
// pattern goroutine has reached its blocking call; it gives up after timeout (the dump is then still
// usable, just possibly with a goroutine caught before it parked).
func waitParked(want int, timeout time.Duration) bool {
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if runtime.NumGoroutine() >= want {
			n := runtime.Stack(buf, true)
			if !strings.Contains(string(buf[:n]), " [runnable") {
				return true
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "patterns:", err)
	os.Exit(1)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address for the pprof HTTP server")
	n := flag.Int("n", 1, "goroutines per pattern")
	depth := flag.Int("depth", 150, "recursion depth of the deep-stack goroutines")
	flag.Parse()
	if *n < 1 || *depth < 0 {
		fatal(fmt.Errorf("-n must be >= 1 and -depth >= 0"))
	}

	want := start(*n, *depth) + 1 // + main
	if !waitParked(want, 10*time.Second) {
		fmt.Fprintln(os.Stderr, "patterns: warning: not every goroutine parked within 10s")
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", httppprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", httppprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", httppprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", httppprof.Trace)
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
