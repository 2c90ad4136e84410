// Command leaky is a Go service that leaks goroutines on purpose: the integration tests scrape it with the
// real daemon, and the demo runs it as a slow leak.
//
// It serves net/http/pprof (so /debug/pprof/goroutine?debug=1 works) plus:
//
//	/goroutines   runtime.NumGoroutine() as plain text
//	/leak?n=K     leaks K goroutines of the configured kind now and answers the new NumGoroutine;
//	              &kind=NAME picks another kind for this batch, &label=V runs the batch's goroutines
//	              with the pprof label leak=V (so the profiles show "# labels: {"leak":"V"}")
//	/debug/pprof/goroutineleak          the runtime's goroutineleak profile when it has one (Go 1.26 built
//	                                    with GOEXPERIMENT=goroutineleakprofile, Go 1.27+), served by
//	                                    net/http/pprof; otherwise an emulation of its ?debug=1 (see below)
//
// The first line on stdout is always "listening HOST:PORT"; logs go to stderr.
//
// Every leak kind parks in its own named function (main.leakChanSend, main.leakMutex, ...) so the
// profile's stacks say which kind of leak they are.
//
// Which kinds the runtime's goroutineleak profile reports: its detection GC marks from runnable goroutines
// only and flags the blocked goroutines whose channel, mutex or other primitive stayed unreachable, so a
// kind is proved leaked only if nothing but the leaked goroutines themselves references what they block on.
//
//	chansend, chanrecv, select, mutex   proved: each goroutine blocks on a channel or sync.Mutex of its own
//	                                    (a local that has no other reference once it blocks)
//	waitgroup, ctx                      not reported: they wait on the package-level leakWG / leakCtx,
//	                                    reachable from globals, so the runtime cannot prove them stuck
//	ticker                              not reported: the ticker's channel is reachable from the runtime's
//	                                    timers (and time.Ticker would fire again anyway)
//
// The emulation (older Go) counts every kind, as it only looks at where the goroutines are parked.
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/* on http.DefaultServeMux
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Objects the waitgroup and ctx kinds block on forever. They are package-level so nothing ever releases
// them, which also keeps them reachable: the runtime's leak detection does not report these kinds.
var (
	leakWG     sync.WaitGroup
	leakCtx    context.Context
	leakCancel context.CancelFunc // never called
)

func init() {
	leakWG.Add(1) // never Done
	leakCtx, leakCancel = context.WithCancel(context.Background())
	_ = leakCancel
}

// Each leak function closes `started` once it is about to block, so /leak can answer only after the
// goroutines are really parked where the profile will show them.

func leakChanSend(started chan<- struct{}) {
	ch := make(chan int) // nobody ever receives
	close(started)
	ch <- 1
}

func leakChanRecv(started chan<- struct{}) {
	ch := make(chan int) // nobody ever sends
	close(started)
	<-ch
}

func leakSelect(started chan<- struct{}) {
	a, b := make(chan int), make(chan string)
	close(started)
	select {
	case <-a:
	case <-b:
	}
}

// ownMutex is a sync.Mutex padded to 16 bytes. A bare sync.Mutex (8 bytes, no pointers) comes from the
// tiny allocator, which packs it into one 16-byte block with other small objects; the GC marks blocks, not
// objects, so a live neighbour makes the mutex look reachable and the runtime then misses the leak (seen:
// 2 of 3, 4 of 5 leakMutex goroutines reported). 16 bytes is past the tiny allocator's limit.
type ownMutex struct {
	sync.Mutex
	_ [8]byte
}

func leakMutex(started chan<- struct{}) {
	mu := new(ownMutex) // this goroutine's own, locked twice: nothing else can ever unlock it
	mu.Lock()
	close(started)
	mu.Lock()
}

func leakWaitGroup(started chan<- struct{}) {
	close(started)
	leakWG.Wait()
}

func leakTicker(started chan<- struct{}) {
	t := time.NewTicker(time.Hour) // never stopped: the goroutine lives as long as the process
	close(started)
	for range t.C {
	}
}

func leakContext(started chan<- struct{}) {
	close(started)
	<-leakCtx.Done()
}

var leakKinds = map[string]func(chan<- struct{}){
	"chansend":  leakChanSend,
	"chanrecv":  leakChanRecv,
	"select":    leakSelect,
	"mutex":     leakMutex,
	"waitgroup": leakWaitGroup,
	"ticker":    leakTicker,
	"ctx":       leakContext,
}

var (
	leakMuOp sync.Mutex // serialises leak batches so counts stay exact
	leaked   int
)

// leak starts n goroutines of the given kind and returns once all of them have reached their blocking point.
func leak(kind func(chan<- struct{}), n int) {
	leakMuOp.Lock()
	defer leakMuOp.Unlock()
	for i := 0; i < n; i++ {
		started := make(chan struct{})
		go kind(started)
		<-started
	}
	leaked += n
}

// The healthy baseline: a worker pool fed by a dispatcher. Workers park on the jobs channel between jobs.

func worker(jobs <-chan []byte, done <-chan struct{}) {
	for {
		select {
		case b := <-jobs:
			sum := sha256.Sum256(b)
			_ = sum
		case <-done:
			return
		}
	}
}

func dispatcher(jobs chan<- []byte, done <-chan struct{}) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	payload := make([]byte, 4096)
	for {
		select {
		case <-t.C:
			select {
			case jobs <- payload:
			default: // all workers busy: skip, never block
			}
		case <-done:
			return
		}
	}
}

// selfSigned makes an ECDSA certificate for 127.0.0.1, ::1 and localhost that is its own CA, so the PEM of
// the certificate alone is the trust anchor a client needs.
func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "leaky test target", Organization: []string{"leakwatch tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	return pair, certPEM, err
}

// serveGoroutineLeak stands in for /debug/pprof/goroutineleak where the runtime has no such profile (Go
// before 1.26, and 1.26 built without GOEXPERIMENT=goroutineleakprofile; main registers it only then): it
// answers ?debug=1 in exactly that profile's text format (reference section 5: the debug=1 format of the
// goroutine profile, named "goroutineleak", holding only leaked goroutines), built from the real goroutine
// profile by keeping the groups parked in one of this program's leak functions. Other debug levels get the
// 404 an older Go gives for an unknown profile. Its answers carry "X-Leaky-Goroutineleak: emulated", so a
// test can tell it from the runtime's.
func serveGoroutineLeak(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Leaky-Goroutineleak", "emulated")
	if r.URL.Query().Get("debug") != "1" {
		http.Error(w, "Unknown profile", http.StatusNotFound)
		return
	}
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	// A header line, then groups separated by blank lines.
	text := buf.String()
	text = text[strings.IndexByte(text, '\n')+1:]
	blocks := strings.Split(strings.TrimRight(text, "\n"), "\n\n")
	var kept []string
	total := 0
	for _, b := range blocks {
		if !strings.Contains(b, "main.leak") {
			continue
		}
		n, err := strconv.Atoi(b[:strings.IndexByte(b, ' ')])
		if err != nil {
			http.Error(w, "unexpected profile text", http.StatusInternalServerError)
			return
		}
		total += n
		kept = append(kept, b)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "goroutineleak profile: total %d\n", total)
	for _, b := range kept {
		fmt.Fprintf(w, "%s\n\n", b)
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve on")
	leakEvery := flag.Duration("leak-every", 0, "leak -leak-batch goroutines this often (0 = only on /leak)")
	leakBatch := flag.Int("leak-batch", 1, "goroutines leaked per -leak-every tick")
	kindName := flag.String("kind", "chansend", "leak kind: chansend|chanrecv|select|mutex|waitgroup|ticker|ctx")
	baseline := flag.Int("baseline", 0, "healthy worker goroutines (plus one dispatcher when > 0)")
	useTLS := flag.Bool("tls", false, "serve HTTPS with an in-memory self-signed certificate")
	certOut := flag.String("cert-out", "", "with -tls: write the certificate (its own CA) as PEM here")
	noLeakProfile := flag.Bool("no-goroutineleak", false,
		"answer /debug/pprof/goroutineleak with 404 Unknown profile, as Go without the profile does")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("leaky: ")

	kind, ok := leakKinds[*kindName]
	if !ok {
		fmt.Fprintf(os.Stderr, "leaky: unknown -kind %q\n", *kindName)
		os.Exit(2)
	}
	if *baseline < 0 || *leakBatch < 0 {
		fmt.Fprintln(os.Stderr, "leaky: -baseline and -leak-batch must be >= 0")
		os.Exit(2)
	}

	done := make(chan struct{})
	var workers sync.WaitGroup
	if *baseline > 0 {
		jobs := make(chan []byte)
		for i := 0; i < *baseline; i++ {
			workers.Add(1)
			go func() { defer workers.Done(); worker(jobs, done) }()
		}
		workers.Add(1)
		go func() { defer workers.Done(); dispatcher(jobs, done) }()
	}

	http.HandleFunc("/goroutines", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "%d\n", runtime.NumGoroutine())
	})
	if *noLeakProfile {
		http.HandleFunc("/debug/pprof/goroutineleak", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "Unknown profile", http.StatusNotFound) // net/http/pprof's words for it
		})
	} else if pprof.Lookup("goroutineleak") == nil {
		http.HandleFunc("/debug/pprof/goroutineleak", serveGoroutineLeak)
	} // else net/http/pprof's /debug/pprof/ handler serves the runtime's profile under that name
	http.HandleFunc("/leak", func(w http.ResponseWriter, r *http.Request) {
		n := 1
		if s := r.URL.Query().Get("n"); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil || v < 0 || v > 1_000_000 {
				http.Error(w, "n must be an integer in [0, 1000000]", http.StatusBadRequest)
				return
			}
			n = v
		}
		batchKind := kind
		if s := r.URL.Query().Get("kind"); s != "" {
			k, ok := leakKinds[s]
			if !ok {
				http.Error(w, "unknown kind", http.StatusBadRequest)
				return
			}
			batchKind = k
		}
		if label := r.URL.Query().Get("label"); label != "" {
			// Goroutines inherit the labels of the goroutine that starts them.
			pprof.Do(r.Context(), pprof.Labels("leak", label), func(context.Context) { leak(batchKind, n) })
		} else {
			leak(batchKind, n)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "%d\n", runtime.NumGoroutine())
	})

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second}
	if *useTLS {
		pair, certPEM, err := selfSigned()
		if err != nil {
			log.Fatalf("certificate: %v", err)
		}
		if *certOut != "" {
			// Written before "listening" is printed, so a reader of that line can rely on the file.
			tmp := *certOut + ".tmp"
			if err := os.WriteFile(tmp, certPEM, 0o644); err != nil {
				log.Fatalf("write -cert-out: %v", err)
			}
			if err := os.Rename(tmp, *certOut); err != nil {
				log.Fatalf("write -cert-out: %v", err)
			}
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	// os.Stdout is unbuffered: this line is on the pipe/file as soon as Printf returns.
	fmt.Printf("listening %s\n", ln.Addr().String())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	if *leakEvery > 0 {
		go func() {
			t := time.NewTicker(*leakEvery)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					leak(kind, *leakBatch)
					log.Printf("leaked %d %s goroutine(s); NumGoroutine=%d", *leakBatch, *kindName, runtime.NumGoroutine())
				case <-ctx.Done():
					return
				}
			}
		}()
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		log.Printf("signal received, shutting down")
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Fatalf("serve: %v", err)
		}
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx) // a connection still open after 2 s is simply dropped at exit
	close(done)
	workers.Wait()
}
