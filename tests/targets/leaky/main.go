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
// For the tests of leakwatch's scrape authentication (Prometheus' basic_auth, authorization, http_headers,
// tls_config) every path, /debug/pprof/* included, can be put behind checks; all are off by default:
//
//	-basic-auth USER:PASS    HTTP basic auth with exactly these credentials, else 401
//	                         (WWW-Authenticate: Basic realm="leaky")
//	-bearer-file PATH        "Authorization: Bearer T" where T is PATH's content without surrounding
//	                         whitespace, read again for every request (a test rotates it), else 401;
//	                         PATH missing, unreadable or blank: 500
//	-require-header N:V      a header N with the value V, else 403
//	-mtls-out DIR            with -tls: a client CA and a client certificate signed by it are written to
//	                         DIR (client-ca.pem, client.pem, client-key.pem) and the TLS handshake
//	                         requires a client certificate that CA signed
//
// The credential checks (401, 500) run before the header check (403), so a request failing both gets 401.
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
	"crypto/subtle"
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
	"path/filepath"
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

// writeFileAtomic writes data to path through a temporary file and a rename, so a reader that sees path sees
// all of it. A stale temporary file is removed first because WriteFile's mode applies only to a file it
// creates: reusing one with wider permissions would expose the private key. The Chmod gives the exact mode
// whatever the umask.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// clientCA makes a CA and a client certificate it signs (ECDSA P-256, both in memory), writes
// dir/client-ca.pem, dir/client.pem and dir/client-key.pem (PKCS#8, mode 0600: the form and permissions a
// real client key has, so the daemon is tested reading what it will meet) and returns the pool that verifies
// such client certificates. The CA is not the server's self-signed certificate, so a client that presents
// the server's certificate, or one of its own, is refused.
func clientCA(dir string) (*x509.CertPool, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "leaky test client CA", Organization: []string{"leakwatch tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "leaky test client", Organization: []string{"leakwatch tests"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		// Go's server checks this usage on a client certificate (x509.ExtKeyUsageClientAuth is required).
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{"client-ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644},
		{"client.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644},
		{"client-key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600},
	}
	for _, f := range files {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return nil, err
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, nil
}

// access is what every request must carry (-basic-auth, -bearer-file, -require-header). The zero value
// asks for nothing, so without those flags leaky answers exactly as before.
type access struct {
	basic                   bool // -basic-auth given (an empty user or password is still a credential)
	user, password          string
	bearerFile              string
	headerName, headerValue string
}

func (a access) enabled() bool { return a.basic || a.bearerFile != "" || a.headerName != "" }

// same compares a secret in constant time: it costs nothing here and keeps the target a model of the real
// servers leakwatch scrapes.
func same(got, want string) bool { return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1 }

// check returns 0 when r may pass, else the status to answer and a reason for the log. Reasons never quote
// what the request carried or what was expected: those are the secrets the tests look for in leakwatch's
// output, and leaky's log is printed next to leakwatch's when a test fails.
func (a access) check(r *http.Request) (int, string) {
	if a.basic {
		user, password, ok := r.BasicAuth()
		if !ok {
			return http.StatusUnauthorized, "no basic auth credentials"
		}
		// Both compared, whatever the first gives, so the answer's timing says nothing about which was wrong.
		if userOK, passwordOK := same(user, a.user), same(password, a.password); !userOK || !passwordOK {
			return http.StatusUnauthorized, "wrong basic auth credentials"
		}
	}
	if a.bearerFile != "" {
		// Read for every request, not once, so a test can rotate the token under a running target the way a
		// Kubernetes secret volume is updated.
		b, err := os.ReadFile(a.bearerFile)
		if err != nil {
			return http.StatusInternalServerError, fmt.Sprintf("cannot read -bearer-file: %v", err)
		}
		want := strings.TrimSpace(string(b))
		if want == "" {
			// A blank token would let "Authorization: Bearer" with no token through.
			return http.StatusInternalServerError, "-bearer-file is blank"
		}
		// RFC 7235: the scheme is case-insensitive; one or more spaces separate it from the token.
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return http.StatusUnauthorized, "no bearer token"
		}
		if !same(strings.TrimLeft(token, " "), want) {
			return http.StatusUnauthorized, "wrong bearer token"
		}
	}
	if a.headerName != "" {
		found := false
		for _, v := range r.Header.Values(a.headerName) { // a header sent more than once passes if any line matches
			found = found || same(v, a.headerValue)
		}
		if !found {
			return http.StatusForbidden, "required header " + a.headerName + " missing or wrong"
		}
	}
	return 0, ""
}

// wrap puts the checks in front of next. An unchanged handler when nothing is required, so the default
// leaky serves exactly as it did before these flags existed.
func (a access) wrap(next http.Handler) http.Handler {
	if !a.enabled() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, reason := a.check(r)
		if status == 0 {
			next.ServeHTTP(w, r)
			return
		}
		log.Printf("%s %s from %s: %d, %s", r.Method, r.URL.Path, r.RemoteAddr, status, reason)
		if status == http.StatusUnauthorized {
			if a.basic {
				w.Header().Set("WWW-Authenticate", `Basic realm="leaky"`)
			} else {
				w.Header().Set("WWW-Authenticate", `Bearer realm="leaky"`) // RFC 6750 section 3
			}
		}
		http.Error(w, http.StatusText(status), status)
	})
}

// parseAccess turns the access flags into an access, or an error for a flag that cannot be met.
func parseAccess(basicAuth, bearerFile, requireHeader string) (access, error) {
	var a access
	if basicAuth != "" {
		// RFC 7617: the user id cannot contain a colon, the password can, so the first colon splits them.
		user, password, ok := strings.Cut(basicAuth, ":")
		if !ok {
			return a, errors.New("-basic-auth must be USER:PASS")
		}
		a.basic, a.user, a.password = true, user, password
	}
	if a.basic && bearerFile != "" {
		// Both live in the one Authorization header, so no request could satisfy both.
		return a, errors.New("-basic-auth and -bearer-file are mutually exclusive")
	}
	a.bearerFile = bearerFile
	if requireHeader != "" {
		name, v, ok := strings.Cut(requireHeader, ":")
		// Trimmed because HTTP drops the whitespace around a field value: "X-A: b" must mean the value "b".
		name, v = strings.TrimSpace(name), strings.TrimSpace(v)
		if !ok || name == "" {
			return a, errors.New("-require-header must be NAME:VALUE")
		}
		a.headerName, a.headerValue = name, v
	}
	return a, nil
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
	basicAuth := flag.String("basic-auth", "", "USER:PASS: every request needs these basic auth credentials (else 401)")
	bearerFile := flag.String("bearer-file", "",
		"every request needs \"Authorization: Bearer <this file's content, trimmed>\" (else 401); read per request")
	requireHeader := flag.String("require-header", "", "NAME:VALUE: every request needs this header (else 403)")
	mtlsOut := flag.String("mtls-out", "",
		"with -tls: write a client CA, client.pem and client-key.pem to this directory and require client certificates signed by that CA")
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
	acc, err := parseAccess(*basicAuth, *bearerFile, *requireHeader)
	if err != nil {
		fmt.Fprintf(os.Stderr, "leaky: %v\n", err)
		os.Exit(2)
	}
	if *mtlsOut != "" && !*useTLS {
		fmt.Fprintln(os.Stderr, "leaky: -mtls-out needs -tls")
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
	srv := &http.Server{Handler: acc.wrap(http.DefaultServeMux), ReadHeaderTimeout: 10 * time.Second}
	if acc.enabled() {
		// Which checks, never their values (see access.check).
		log.Printf("access: basic auth %t, bearer file %q, required header %q",
			acc.basic, acc.bearerFile, acc.headerName)
	}
	if *useTLS {
		pair, certPEM, err := selfSigned()
		if err != nil {
			log.Fatalf("certificate: %v", err)
		}
		// The files below are written before "listening" is printed, so a reader of that line can rely on them.
		if *certOut != "" {
			if err := writeFileAtomic(*certOut, certPEM, 0o644); err != nil {
				log.Fatalf("write -cert-out: %v", err)
			}
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
		if *mtlsOut != "" {
			pool, err := clientCA(*mtlsOut)
			if err != nil {
				log.Fatalf("-mtls-out: %v", err)
			}
			srv.TLSConfig.ClientCAs = pool
			srv.TLSConfig.ClientAuth = tls.RequireAndVerifyClientCert
			log.Printf("requiring client certificates signed by %s", filepath.Join(*mtlsOut, "client-ca.pem"))
		}
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
