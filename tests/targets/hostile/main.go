// Command hostile is a deliberately bad scrape target. It answers every path the same way, chosen by -mode:
//
//	hang      accepts TCP connections and never answers; keeps them open until the client closes
//	slow      200 + headers at once, then the body dribbles at 1 byte/s forever
//	huge      200 with a very large (-huge-bytes, default 200 MiB) valid-looking debug=1 profile, streamed fast
//	garbage   200 with random binary
//	status500 500 Internal Server Error
//	gzipbomb  200, Content-Encoding: gzip, a small body that inflates to -bomb-bytes (default 1.5 GiB) of zeros
//	badutf8   200 with a valid debug=1 profile whose function names, file paths and labels hold invalid UTF-8
//	          (a stray 0xff, a truncated sequence, an overlong encoding, a UTF-16 surrogate) and quotes,
//	          backslashes and newlines escaped as Go's profile writer leaves them
//
// The first line on stdout is always "listening HOST:PORT"; one log line per connection/request goes to stderr
// ("accept ..." in hang mode, "request ..." otherwise), which tests use to know a scrape is in flight.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
)

const (
	kib = 1 << 10
	mib = 1 << 20
)

// profileChunk is one block of debug=1 text repeated to make the huge body: each copy is a complete stack group.
func profileChunk() []byte {
	var b bytes.Buffer
	for b.Len() < 64*kib {
		b.WriteString("1 @ 0x43a5d6 0x4068ec 0x406478 0x4a1b2f 0x46c861\n" +
			"#\t0x4a1b2e\tmain.leakChanSend+0x2e\t/src/leaky/main.go:61\n" +
			"#\t0x46c860\truntime.goexit+0x0\t/usr/lib/go/src/runtime/asm_amd64.s:1594\n\n")
	}
	return b.Bytes()
}

// gzipBomb compresses n zero bytes. BestSpeed shrinks zeros about 800:1 (1.5 GiB -> ~2 MiB) in about a
// second; BestCompression would do only slightly better at five times the startup time.
func gzipBomb(n int64) []byte {
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestSpeed)
	zeros := make([]byte, mib)
	for left := n; left > 0; {
		k := int64(len(zeros))
		if left < k {
			k = left
		}
		_, _ = zw.Write(zeros[:k])
		left -= k
	}
	_ = zw.Close()
	return out.Bytes()
}

// hang holds every accepted connection open without ever writing to it. Whatever the client sends is read
// and thrown away, so the connection is closed as soon as the client closes its side.
func hang(ctx context.Context, ln net.Listener) {
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	go func() {
		<-ctx.Done()
		_ = ln.Close()
		mu.Lock()
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		log.Printf("accept %s", c.RemoteAddr())
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		go func() {
			_, _ = io.Copy(io.Discard, c)
			log.Printf("closed by client %s", c.RemoteAddr())
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
			_ = c.Close()
		}()
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve on")
	mode := flag.String("mode", "", "hang|slow|huge|garbage|status500|gzipbomb|badutf8")
	hugeBytes := flag.Int64("huge-bytes", 200*mib, "huge: body size in bytes")
	declareLength := flag.Bool("declare-length", false, "huge: send Content-Length instead of a chunked body")
	garbageBytes := flag.Int("garbage-bytes", 64*kib, "garbage: body size in bytes")
	bombBytes := flag.Int64("bomb-bytes", 1536*mib, "gzipbomb: inflated size in bytes")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("hostile[" + *mode + "]: ")

	var handler http.HandlerFunc
	switch *mode {
	case "hang":
		// Served below without net/http.
	case "slow":
		handler = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			flusher, _ := w.(http.Flusher)
			if flusher != nil {
				flusher.Flush()
			}
			text := []byte("goroutine profile: total 1\n1 @ 0x1\n#\t0x1\tmain.main+0x1\t/src/main.go:1\n\n")
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for i := 0; ; i++ {
				select {
				case <-r.Context().Done():
					return
				case <-t.C:
				}
				if _, err := w.Write(text[i%len(text) : i%len(text)+1]); err != nil {
					return
				}
				if flusher != nil {
					flusher.Flush()
				}
			}
		}
	case "huge":
		chunk := profileChunk()
		handler = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if *declareLength {
				w.Header().Set("Content-Length", strconv.FormatInt(*hugeBytes, 10))
			}
			w.WriteHeader(http.StatusOK)
			header := fmt.Sprintf("goroutine profile: total %d\n", *hugeBytes/int64(len(chunk))*1000)
			left := *hugeBytes
			write := func(b []byte) bool {
				if int64(len(b)) > left {
					b = b[:left]
				}
				n, err := w.Write(b)
				left -= int64(n)
				return err == nil && left > 0
			}
			if !write([]byte(header)) {
				return
			}
			for write(chunk) {
			}
		}
	case "garbage":
		handler = func(w http.ResponseWriter, r *http.Request) {
			body := make([]byte, *garbageBytes)
			rand.New(rand.NewSource(time.Now().UnixNano())).Read(body)
			if len(body) > 0 && body[0] == 'g' { // never look like a profile header by chance
				body[0] = 0
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(body)
		}
	case "status500":
		handler = func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "internal error: the profiler fell over", http.StatusInternalServerError)
		}
	case "gzipbomb":
		start := time.Now()
		bomb := gzipBomb(*bombBytes)
		log.Printf("gzip bomb: %d bytes inflating to %d, built in %v", len(bomb), *bombBytes, time.Since(start))
		handler = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Content-Encoding", "gzip") // whatever the client asked for
			w.Header().Set("Content-Length", strconv.Itoa(len(bomb)))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(bomb)
		}
	case "badutf8":
		// Go writes function names and paths as the binary holds them, so any byte can reach a profile.
		body := "goroutine profile: total 45\n" +
			"30 @ 0x1 0x2\n" +
			"# labels: {\"tenant\":\"t\xff\\\"x\"}\n" +
			"#\t0x1\tmain.leak\xffy+0x1\t/src/b\xe2\x82ad.go:7\n" +
			"#\t0x2\tmain.main+0x1\t/src/main.go:1\n\n" +
			"15 @ 0x3 0x2\n" +
			"#\t0x3\tmain.\xc0\x80\xed\xa0\x80wait\\\"q+0x1\t/src/c\xf0\x9f.go:9\n" +
			"#\t0x2\tmain.main+0x1\t/src/main.go:1\n\n"
		handler = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, body)
		}
	default:
		fmt.Fprintf(os.Stderr, "hostile: -mode must be one of hang|slow|huge|garbage|status500|gzipbomb|badutf8, not %q\n", *mode)
		os.Exit(2)
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	fmt.Printf("listening %s\n", ln.Addr().String())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	if *mode == "hang" {
		hang(ctx, ln)
		return
	}

	logged := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.Printf("request %s %s from %s", r.Method, r.URL, r.RemoteAddr)
		handler(w, r)
	})
	srv := &http.Server{Handler: logged, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Fatalf("serve: %v", err)
		}
	}
	// Slow and huge handlers would hold Shutdown up; the tests only need a prompt exit.
	shutCtx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	_ = srv.Close()
}
