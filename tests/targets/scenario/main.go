// Command scenario is one small Go "service" with a scripted goroutine population, recorded by
// scripts/record-scenarios.py into the labelled replay scenarios of tests/scenarios/.
//
//	scenario -scenario NAME -speed 60 -listen 127.0.0.1:0 -seed 1 [-lead-in 25m]
//	scenario -list        (the catalogue as JSON lines: name, kind, expected_function, description)
//
// The first stdout line is "listening HOST:PORT"; /debug/pprof/... is served there (net/http/pprof).
//
// Time is compressed: every scripted duration (leak intervals, lead-ins, burst gaps and lifetimes, batch
// periods, the sinusoid's period, request and connection lifetimes) is virtual and runs -speed times
// faster in real time, so a 3 h scenario plays in 3 min at -speed 60. Rates are per virtual second.
//
// Every scenario has a healthy background (a worker pool parked on a job channel, client connections that
// open and close, short request goroutines, all with random noise and a slowly drifting load). A leak
// scenario adds, after a healthy lead-in, goroutines that park forever in one distinctly named function
// (the scenario's expected_function: the first frame, leafward, that is not runtime or standard library
// plumbing). Most leak sites also have a healthy twin: the same function, reached by the same code, but on
// a path that does return, so the leaking stack exists (with a small stable count) before the leak.
//
// stderr gets one "leak-start virtual_ms=N" line when the fault behind the leak begins (N: virtual ms
// since this process started), and a status line every 10 virtual minutes.
//
// Every function named as a leak site is //go:noinline so its frame is stable in the recorded profiles.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand"
	"net"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/* on http.DefaultServeMux
	"os"
	"os/signal"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ------------------------------------------------------------------------------------------ virtual time

var (
	speed    = 1.0
	started  = time.Now()
	baseSeed int64
)

// rdur converts a virtual duration to the real one.
func rdur(v time.Duration) time.Duration {
	r := time.Duration(float64(v) / speed)
	if r < time.Microsecond {
		r = time.Microsecond
	}
	return r
}

// vnow is the virtual time elapsed since the process started.
func vnow() time.Duration { return time.Duration(float64(time.Since(started)) * speed) }

func vsleep(v time.Duration) { time.Sleep(rdur(v)) }

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// --------------------------------------------------------------------------------------------- randomness

// newRand gives each spawning loop its own deterministic stream (a *rand.Rand is not goroutine-safe).
func newRand(stream int64) *rand.Rand { return rand.New(rand.NewSource(baseSeed*7919 + stream)) }

func poisson(r *rand.Rand, mean float64) int {
	if mean <= 0 {
		return 0
	}
	if mean > 30 {
		n := int(math.Round(mean + math.Sqrt(mean)*r.NormFloat64()))
		if n < 0 {
			n = 0
		}
		return n
	}
	limit, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= r.Float64()
		if p <= limit {
			return k
		}
		k++
	}
}

func lognormal(r *rand.Rand, median time.Duration, sigma float64) time.Duration {
	return time.Duration(float64(median) * math.Exp(sigma*r.NormFloat64()))
}

func expDur(r *rand.Rand, mean time.Duration) time.Duration {
	return time.Duration(r.ExpFloat64() * float64(mean))
}

func uniformDur(r *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.Float64()*float64(hi-lo))
}

// arrivals calls spawn a Poisson number of times per tick: rate(t) events per virtual second at virtual
// time t. It runs forever.
func arrivals(r *rand.Rand, rate func(t time.Duration) float64, spawn func(r *rand.Rand)) {
	// A quarter of a virtual second per tick (2-50 ms real), so that spawns are not bunched against
	// request lifetimes of a few virtual seconds.
	tick := rdur(250 * time.Millisecond)
	if tick < 2*time.Millisecond {
		tick = 2 * time.Millisecond
	} else if tick > 50*time.Millisecond {
		tick = 50 * time.Millisecond
	}
	last := vnow()
	for {
		time.Sleep(tick)
		now := vnow()
		n := poisson(r, rate(now)*(now-last).Seconds())
		last = now
		for i := 0; i < n; i++ {
			spawn(r)
		}
	}
}

// perMin turns "events per virtual minute from virtual time `from` on" into an arrivals rate.
func perMin(from time.Duration, n float64, mult func(time.Duration) float64) func(time.Duration) float64 {
	return func(t time.Duration) float64 {
		if t < from {
			return 0
		}
		if mult != nil {
			return n / 60 * mult(t)
		}
		return n / 60
	}
}

// ------------------------------------------------------------------------------------------ load drift

// drift is a slowly wandering load multiplier around 1 (an Ornstein-Uhlenbeck process in log space),
// so that no background population is perfectly stationary.
type drift struct{ bits atomic.Uint64 }

func newDrift(stream int64, sd float64, tau time.Duration) *drift {
	d := &drift{}
	d.bits.Store(math.Float64bits(1))
	go d.wander(newRand(stream), sd, tau)
	return d
}

func (d *drift) wander(r *rand.Rand, sd float64, tau time.Duration) {
	const step = 15 * time.Second
	x := 0.0
	k := step.Seconds() / tau.Seconds()
	for {
		vsleep(step)
		x += -x*k + sd*math.Sqrt(2*k)*r.NormFloat64()
		d.bits.Store(math.Float64bits(math.Exp(x)))
	}
}

func (d *drift) at(time.Duration) float64 { return math.Float64frombits(d.bits.Load()) }

// -------------------------------------------------------------------------------------- the background

// background is the healthy part every scenario has.
type background struct {
	workers  int           // pool parked on a job channel
	conns    float64       // mean open client connections (birth-death process)
	connLife time.Duration // mean connection lifetime
	reqRate  float64       // requests per virtual second
	reqLife  time.Duration // median request duration
	warm     bool          // a freshly started process: the pool and the connections fill up from zero
	shape    func(t time.Duration) float64
}

type jobQueue struct {
	jobs chan []byte
	size atomic.Int64
}

func (q *jobQueue) worker() {
	for b := range q.jobs {
		sum := sha256.Sum256(b)
		_ = sum
	}
}

func (q *jobQueue) feed() {
	payload := make([]byte, 1024)
	for {
		time.Sleep(100 * time.Millisecond)
		select {
		case q.jobs <- payload:
		default: // all workers busy
		}
	}
}

// grow adds workers lazily, as a pool that starts on demand would: target(t) = n(1 - exp(-t/tau)).
func (q *jobQueue) grow(n int, tau time.Duration) {
	for {
		target := int(math.Round(float64(n) * (1 - math.Exp(-vnow().Seconds()/tau.Seconds()))))
		for int(q.size.Load()) < target {
			q.size.Add(1)
			go q.worker()
		}
		if target >= n {
			return
		}
		vsleep(15 * time.Second)
	}
}

type connTracker struct{ closing chan struct{} }

func (c *connTracker) serve(life time.Duration) {
	idle := time.NewTimer(rdur(life))
	defer idle.Stop()
	select {
	case <-idle.C:
	case <-c.closing:
	}
}

var payMu sync.Mutex

func handleRequest(kind int, d time.Duration) {
	switch kind {
	case 0:
		handleSearch(d)
	case 1:
		handleCheckout(d)
	default:
		handleProfile(d)
	}
}

type searchIndex struct{ cancel chan struct{} }

var index = &searchIndex{cancel: make(chan struct{})}

func (s *searchIndex) lookup(d time.Duration) {
	t := time.NewTimer(rdur(d))
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.cancel:
	}
}

func handleSearch(d time.Duration) { index.lookup(d) }

func handleCheckout(d time.Duration) {
	payMu.Lock()
	payMu.Unlock() //nolint:staticcheck // an (empty) critical section some requests briefly queue on
	time.Sleep(rdur(d))
}

func handleProfile(d time.Duration) { time.Sleep(rdur(d)) }

func (b background) start(load *drift) {
	mult := func(t time.Duration) float64 {
		m := load.at(t)
		if b.shape != nil {
			m *= b.shape(t)
		}
		return m
	}
	q := &jobQueue{jobs: make(chan []byte)}
	if b.warm {
		go q.grow(b.workers, 5*time.Minute)
	} else {
		q.size.Store(int64(b.workers))
		for i := 0; i < b.workers; i++ {
			go q.worker()
		}
	}
	go q.feed()

	c := &connTracker{closing: make(chan struct{})}
	if !b.warm { // start at equilibrium: lifetimes are memoryless
		r := newRand(2)
		for i, n := 0, poisson(r, b.conns*mult(0)); i < n; i++ {
			go c.serve(expDur(r, b.connLife))
		}
	}
	go arrivals(newRand(3), func(t time.Duration) float64 { return b.conns * mult(t) / b.connLife.Seconds() },
		func(r *rand.Rand) { go c.serve(expDur(r, b.connLife)) })

	go arrivals(newRand(4), func(t time.Duration) float64 {
		m := mult(t)
		if b.warm { // traffic moves over gradually once the process is up
			m *= 1 - math.Exp(-t.Seconds()/(4*time.Minute).Seconds())
		}
		return b.reqRate * m
	}, func(r *rand.Rand) { go handleRequest(r.Intn(3), lognormal(r, b.reqLife, 0.8)) })
}

// ------------------------------------------------------------------------------------------ leak sites

var (
	leaked      atomic.Int64
	leakOnce    sync.Once
	never       = make(chan struct{}) // closed by nobody
	neverCancel = make(chan struct{}) // closed by nobody
)

// leakStarts logs the moment the fault behind the leak begins (read by the recorder).
func leakStarts(what string) {
	leakOnce.Do(func() {
		log.Printf("leak-start virtual_ms=%d what=%q", vnow().Milliseconds(), what)
	})
}

// at runs fn once at virtual time t.
func at(t time.Duration, fn func()) {
	go func() {
		time.Sleep(rdur(t) - time.Since(started))
		fn()
	}()
}

// --- chansend: a lookup whose caller gave up; the result is sent on an unbuffered channel nobody reads.

type orderNotifier struct{}

func (n *orderNotifier) notify(lookup time.Duration) {
	ch := make(chan string)
	go n.forward(lookup, ch)
	t := time.NewTimer(rdur(2 * time.Second))
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C: // timed out: forward is left holding a result nobody will take
	}
}

//go:noinline
func (n *orderNotifier) forward(lookup time.Duration, ch chan<- string) {
	res := n.lookup(lookup)
	if lookup > 2*time.Second {
		leaked.Add(1)
	}
	ch <- res
}

func (n *orderNotifier) lookup(d time.Duration) string {
	time.Sleep(rdur(d))
	return "ok"
}

func scenarioChanSend(leadIn time.Duration) {
	n := &orderNotifier{}
	var slowShard atomic.Bool
	at(leadIn, func() {
		slowShard.Store(true)
		leakStarts("a slow inventory shard: 10% of order lookups outlive the caller's 2s timeout")
	})
	load := newDrift(10, 0.15, 20*time.Minute)
	go arrivals(newRand(11), func(t time.Duration) float64 { return 1.0 * load.at(t) }, func(r *rand.Rand) {
		d := lognormal(r, 200*time.Millisecond, 0.5)
		if slowShard.Load() && r.Float64() < 0.10 {
			d = uniformDur(r, 3*time.Second, 20*time.Second)
		}
		go n.notify(d)
	})
}

// --- chanrecv: subscribers to a delisted symbol wait for a quote no producer will ever send.

type priceFeed struct{ last atomic.Uint64 }

//go:noinline
func (f *priceFeed) await(ch <-chan float64, delisted bool) {
	if delisted {
		leaked.Add(1)
	}
	q := <-ch
	f.last.Store(math.Float64bits(q))
}

func (f *priceFeed) publish(ch chan<- float64, d time.Duration) {
	time.Sleep(rdur(d))
	ch <- 101.25
}

func (f *priceFeed) subscribe(delisted bool, d time.Duration) {
	ch := make(chan float64)
	if !delisted { // the bug: a delisted symbol gets no producer, and nobody closes the channel
		go f.publish(ch, d)
	}
	go f.await(ch, delisted)
}

func scenarioChanRecv(leadIn time.Duration) {
	f := &priceFeed{}
	at(leadIn, func() { leakStarts("subscriptions to delisted symbols: 3/min") })
	go arrivals(newRand(11), func(time.Duration) float64 { return 0.5 }, func(r *rand.Rand) {
		f.subscribe(false, lognormal(r, 5*time.Second, 0.7))
	})
	load := newDrift(12, 0.3, 15*time.Minute)
	go arrivals(newRand(13), perMin(leadIn, 3, load.at), func(r *rand.Rand) { f.subscribe(true, 0) })
}

// --- ctx: abandoned carts never cancel the context their inventory watcher selects on.

type cartService struct{ updates chan int }

//go:noinline
func watchInventory(ctx context.Context, updates <-chan int) {
	for {
		select {
		case <-ctx.Done():
			return
		case sku := <-updates:
			_ = sku
		}
	}
}

type cart struct{ cancel context.CancelFunc }

func (c *cartService) open(life time.Duration, abandoned bool) {
	ctx, cancel := context.WithCancel(context.Background())
	ct := &cart{cancel: cancel}
	go watchInventory(ctx, c.updates)
	if abandoned { // the bug: an abandoned cart is dropped without ct.cancel()
		leaked.Add(1)
		return
	}
	time.Sleep(rdur(life))
	ct.cancel()
}

func (c *cartService) publishUpdates() {
	for i := 0; ; i++ {
		vsleep(5 * time.Second)
		select {
		case c.updates <- i:
		default:
		}
	}
}

func scenarioCtx(leadIn time.Duration) {
	c := &cartService{updates: make(chan int)}
	go c.publishUpdates()
	at(leadIn, func() { leakStarts("abandoned carts (12/min) skip cancel()") })
	load := newDrift(10, 0.2, 20*time.Minute)
	go arrivals(newRand(11), func(t time.Duration) float64 { return 0.5 * load.at(t) }, func(r *rand.Rand) {
		go c.open(expDur(r, 2*time.Minute), false)
	})
	go arrivals(newRand(12), perMin(leadIn, 12, load.at), func(r *rand.Rand) { go c.open(0, true) })
}

// --- ticker: reporters of migrated tenant sessions are never closed; their ticker goroutine runs forever.

type metricsReporter struct {
	quit    chan struct{}
	flushes int
}

//go:noinline
func (m *metricsReporter) loop() {
	t := time.NewTicker(rdur(30 * time.Second))
	for {
		select {
		case <-t.C:
			m.flush()
		case <-m.quit:
			t.Stop()
			return
		}
	}
}

func (m *metricsReporter) flush() { m.flushes++ }

type tenantSession struct{}

func (s *tenantSession) run(life time.Duration, migrated bool) {
	m := &metricsReporter{quit: make(chan struct{})}
	go m.loop()
	if migrated { // the bug: the migration path hands the session over without m.Close()
		leaked.Add(1)
		return
	}
	time.Sleep(rdur(life))
	close(m.quit)
}

func scenarioTicker(leadIn time.Duration) {
	s := &tenantSession{}
	at(leadIn, func() { leakStarts("tenant migrations (4/min) leave their metrics reporter running") })
	load := newDrift(10, 0.25, 20*time.Minute)
	go arrivals(newRand(11), func(t time.Duration) float64 { return 0.2 * load.at(t) }, func(r *rand.Rand) {
		go s.run(expDur(r, 3*time.Minute), false)
	})
	go arrivals(newRand(12), perMin(leadIn, 4, load.at), func(r *rand.Rand) { go s.run(0, true) })
}

// --- waitgroup: a part fetcher's error path returns without wg.Done(); its collector waits forever.

type fanout struct{}

//go:noinline
func (f *fanout) collect(parts, failing int, r []time.Duration) {
	var wg sync.WaitGroup
	wg.Add(parts)
	for i := 0; i < parts; i++ {
		go f.fetchPart(&wg, r[i], i == failing)
	}
	if failing >= 0 {
		leaked.Add(1)
	}
	wg.Wait()
}

func (f *fanout) fetchPart(wg *sync.WaitGroup, d time.Duration, fail bool) {
	time.Sleep(rdur(d))
	if fail {
		return // the bug: the error path skips wg.Done()
	}
	wg.Done()
}

func scenarioWaitGroup(leadIn time.Duration) {
	f := &fanout{}
	var failing atomic.Bool
	at(leadIn, func() {
		failing.Store(true)
		leakStarts("a flaky backend: ~21% of fan-outs (2.5/min) lose a wg.Done()")
	})
	load := newDrift(10, 0.2, 25*time.Minute)
	go arrivals(newRand(11), func(t time.Duration) float64 { return 0.2 * load.at(t) }, func(r *rand.Rand) {
		parts := 3 + r.Intn(6)
		ds := make([]time.Duration, parts)
		for i := range ds {
			ds[i] = lognormal(r, 300*time.Millisecond, 0.6)
		}
		fail := -1
		if failing.Load() && r.Float64() < 2.5/12 {
			fail = r.Intn(parts)
		}
		go f.collect(parts, fail, ds)
	})
}

// --- mutex: one error path of expire() returns holding its shard's lock; every later touch of it blocks.

type sessionShard struct {
	mu    sync.Mutex
	count int
}

type sessionStore struct{ shards [16]sessionShard }

//go:noinline
func (s *sessionStore) touch(id int) {
	sh := &s.shards[id%len(s.shards)]
	sh.mu.Lock()
	sh.count++
	sh.mu.Unlock()
}

func (s *sessionStore) expire(shard int, fail bool) {
	sh := &s.shards[shard]
	sh.mu.Lock()
	if fail {
		return // the bug: the error path keeps the lock
	}
	sh.count = 0
	sh.mu.Unlock()
}

func handleSession(s *sessionStore, id int, d time.Duration, broken int) {
	time.Sleep(rdur(d))
	if id%len(s.shards) == broken {
		leaked.Add(1)
	}
	s.touch(id)
}

func scenarioMutex(leadIn time.Duration) {
	s := &sessionStore{}
	var broken atomic.Int64
	broken.Store(-1)
	go func() {
		r := newRand(10)
		for {
			vsleep(time.Minute)
			shard := r.Intn(len(s.shards))
			if broken.Load() >= 0 && shard == int(broken.Load()) {
				continue
			}
			fail := vnow() >= leadIn && broken.Load() < 0
			if fail {
				shard = 5
				broken.Store(int64(shard))
				leakStarts("expire() keeps shard 5's lock; touches of shard 5 (~19/min) block")
			}
			go s.expire(shard, fail)
		}
	}()
	load := newDrift(11, 0.1, 20*time.Minute)
	go arrivals(newRand(12), func(t time.Duration) float64 { return 5 * load.at(t) }, func(r *rand.Rand) {
		go handleSession(s, r.Intn(1<<20), lognormal(r, 400*time.Millisecond, 0.5), int(broken.Load()))
	})
}

// --- httphandler: /api/export starts an audit publisher tied to context.Background(), not r.Context();
// once the audit shipper is gone, every publisher blocks forever.

type auditEvent struct {
	user int
	size int
}

type auditLog struct {
	queue chan auditEvent
	down  atomic.Bool
}

//go:noinline
func (a *auditLog) publish(ctx context.Context, ev auditEvent) {
	if a.down.Load() {
		leaked.Add(1)
	}
	select {
	case a.queue <- ev:
	case <-ctx.Done():
	}
}

func (a *auditLog) ship() {
	for ev := range a.queue {
		_ = ev
		if a.down.Load() {
			return // the shipper lost its downstream and exits; nobody restarts it
		}
	}
}

type apiServer struct{ audit *auditLog }

func (s *apiServer) handleExport(w http.ResponseWriter, r *http.Request) {
	ev := auditEvent{user: len(r.URL.RawQuery), size: 4096}
	go s.audit.publish(context.Background(), ev)                   // the bug: should be r.Context()
	time.Sleep(rdur(secs(0.8 * math.Exp(0.5*rand.NormFloat64())))) // global, goroutine-safe source
	fmt.Fprintln(w, "export queued")
}

func (s *apiServer) handleItems(w http.ResponseWriter, r *http.Request) {
	time.Sleep(rdur(secs(0.3 * math.Exp(0.6*rand.NormFloat64()))))
	fmt.Fprintln(w, `{"items":[]}`)
}

type loadClient struct {
	http *http.Client
	base string
}

func (c *loadClient) get(path string) {
	resp, err := c.http.Get(c.base + path)
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func scenarioHTTPHandler(leadIn time.Duration, addr string) {
	a := &auditLog{queue: make(chan auditEvent)}
	go a.ship()
	s := &apiServer{audit: a}
	http.HandleFunc("/api/export", s.handleExport)
	http.HandleFunc("/api/items", s.handleItems)
	at(leadIn, func() {
		a.down.Store(true)
		leakStarts("the audit shipper exits; every /api/export (~5/min, bursty) leaks its publisher")
		select { // wake the shipper so it notices
		case a.queue <- auditEvent{}:
		default:
		}
	})
	c := &loadClient{
		http: &http.Client{
			Timeout:   rdur(30 * time.Second),
			Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 8, IdleConnTimeout: rdur(90 * time.Second)},
		},
		base: "http://" + addr,
	}
	load := newDrift(10, 0.15, 20*time.Minute)
	bursty := newDrift(11, 0.6, 8*time.Minute)
	go arrivals(newRand(12), func(t time.Duration) float64 { return 2 * load.at(t) }, func(r *rand.Rand) {
		go c.get(fmt.Sprintf("/api/items?page=%d", r.Intn(50)))
	})
	go arrivals(newRand(13), func(t time.Duration) float64 { return 5.0 / 60 * load.at(t) * bursty.at(t) }, func(r *rand.Rand) {
		go c.get(fmt.Sprintf("/api/export?user=%d", r.Intn(1000)))
	})
}

// --- slowleak: a retry whose schedule entry was lost waits on the condition variable forever.

type webhookRetrier struct {
	mu    sync.Mutex
	cond  *sync.Cond
	ready map[int]bool
	next  int
}

//go:noinline
func (w *webhookRetrier) wait(id int) {
	w.mu.Lock()
	for !w.ready[id] {
		w.cond.Wait()
	}
	delete(w.ready, id)
	w.mu.Unlock()
}

func (w *webhookRetrier) retry(d time.Duration, lost bool) {
	w.mu.Lock()
	w.next++
	id := w.next
	w.mu.Unlock()
	if lost { // the bug: a schedule entry dropped on a map resize race; nobody will mark it ready
		leaked.Add(1)
	} else {
		go w.schedule(id, d)
	}
	go w.wait(id)
}

func (w *webhookRetrier) schedule(id int, d time.Duration) {
	time.Sleep(rdur(d))
	w.mu.Lock()
	w.ready[id] = true
	w.mu.Unlock()
	w.cond.Broadcast()
}

func scenarioSlowLeak(leadIn time.Duration) {
	w := &webhookRetrier{ready: map[int]bool{}}
	w.cond = sync.NewCond(&w.mu)
	at(leadIn, func() { leakStarts("lost retry schedules: one per ~2 min") })
	go arrivals(newRand(11), func(time.Duration) float64 { return 0.1 }, func(r *rand.Rand) {
		w.retry(lognormal(r, 30*time.Second, 0.5), false)
	})
	go arrivals(newRand(12), perMin(leadIn, 0.5, nil), func(r *rand.Rand) { w.retry(0, true) })
}

// --- leak_restart: lease renewers of a dead session wait for a keepalive or a revocation, neither comes.

type leaseKeeper struct{ revoked chan struct{} }

//go:noinline
func (k *leaseKeeper) renew(keepalive <-chan struct{}, dead bool) {
	if dead {
		leaked.Add(1)
	}
	select {
	case <-keepalive:
	case <-k.revoked:
	}
}

func (k *leaseKeeper) grant(ttl time.Duration, dead bool) {
	ka := make(chan struct{})
	go k.renew(ka, dead)
	if dead { // the bug: the session died; its keepalive channel is forgotten, never closed
		return
	}
	time.Sleep(rdur(ttl))
	close(ka)
}

func scenarioLeakRestart(leadIn time.Duration) { scenarioLeases(leadIn, 8) }

// scenarioLeases: leases granted at a drifting rate and released after ~1 min share their renew loop's
// stack with the leaked ones (perMinute of them from leadIn), so the leak's group also turns over.
func scenarioLeases(leadIn time.Duration, perMinute float64) {
	k := &leaseKeeper{revoked: make(chan struct{})}
	at(leadIn, func() {
		leakStarts(fmt.Sprintf("leases of a dead etcd session (%g/min) are never released", perMinute))
	})
	load := newDrift(10, 0.2, 20*time.Minute)
	go arrivals(newRand(11), func(t time.Duration) float64 { return 0.3 * load.at(t) }, func(r *rand.Rand) {
		go k.grant(expDur(r, time.Minute), false)
	})
	go arrivals(newRand(12), perMin(leadIn, perMinute, load.at), func(r *rand.Rand) { go k.grant(0, true) })
}

// ------------------------------------------------------------------------------------ healthy scripts

// --- bursty: random fan-out searches of hundreds of short-lived goroutines, sometimes in trains.

type searchFanout struct{ cancel chan struct{} }

func (s *searchFanout) query(life time.Duration) {
	t := time.NewTimer(rdur(life))
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.cancel:
	}
}

func (s *searchFanout) burst(r *rand.Rand, size int, ramp time.Duration) {
	for i := 0; i < size; i++ {
		life := lognormal(r, 45*time.Second, 0.6)
		if life > 4*time.Minute {
			life = 4 * time.Minute
		}
		go s.query(life)
		vsleep(ramp / time.Duration(size))
	}
}

func scenarioBursty() {
	s := &searchFanout{cancel: make(chan struct{})}
	go func() {
		r := newRand(10)
		for {
			vsleep(expDur(r, 7*time.Minute))
			train := 1
			if r.Float64() < 0.3 {
				train = 2 + r.Intn(3)
			}
			for i := 0; i < train; i++ {
				size := 150 + r.Intn(651)
				s.burst(newRand(100+r.Int63n(1<<30)), size, uniformDur(r, 5*time.Second, 20*time.Second))
				if i+1 < train {
					vsleep(uniformDur(r, 30*time.Second, 90*time.Second))
				}
			}
		}
	}()
}

// --- warmup: a connection pool that grows as demand finds it, and a config cache whose per-key watcher
// goroutines fill to the cache's capacity (then LRU eviction keeps the count at the cap).

type configCache struct {
	mu      sync.Mutex
	entries map[int]*cacheEntry
	order   []int // keys, least recently used first
	cap     int
	updates chan int
}

type cacheEntry struct{ evict chan struct{} }

func (c *configCache) watch(e *cacheEntry) {
	for {
		select {
		case <-e.evict:
			return
		case v := <-c.updates:
			_ = v
		}
	}
}

func (c *configCache) get(key int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; ok {
		for i, k := range c.order {
			if k == key {
				c.order = append(append(c.order[:i:i], c.order[i+1:]...), key)
				break
			}
		}
		return
	}
	if len(c.entries) >= c.cap {
		old := c.order[0]
		c.order = c.order[1:]
		close(c.entries[old].evict)
		delete(c.entries, old)
	}
	e := &cacheEntry{evict: make(chan struct{})}
	c.entries[key] = e
	c.order = append(c.order, key)
	go c.watch(e)
}

type poolConn struct{ closing chan struct{} }

func (p *poolConn) keepalive() {
	t := time.NewTicker(rdur(time.Minute))
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-p.closing:
			return
		}
	}
}

func scenarioWarmup() {
	c := &configCache{entries: map[int]*cacheEntry{}, cap: 320, updates: make(chan int)}
	go func() {
		for i := 0; ; i++ {
			vsleep(10 * time.Second)
			select {
			case c.updates <- i:
			default:
			}
		}
	}()
	zr := newRand(10)
	zipf := rand.NewZipf(zr, 1.07, 4, 599)
	go arrivals(newRand(11), func(time.Duration) float64 { return 1.2 }, func(*rand.Rand) { c.get(int(zipf.Uint64())) })
	// The pool: one more connection whenever the (noisy) demand exceeds it, up to 450; it never shrinks.
	go func() {
		r := newRand(12)
		p := &poolConn{closing: make(chan struct{})}
		n := 0
		for {
			vsleep(15 * time.Second)
			t := vnow().Seconds()
			demand := 450 * (1 - math.Exp(-t/(7*time.Minute).Seconds())) * (1 + 0.08*r.NormFloat64())
			for ; float64(n) < demand && n < 450; n++ {
				go p.keepalive()
			}
		}
	}()
}

// --- batch: every ~10 min a job fans out several hundred workers that all finish within ~2.5 min.

type batchRunner struct{}

func (b *batchRunner) process(d time.Duration, wg *sync.WaitGroup) {
	defer wg.Done()
	time.Sleep(rdur(d))
}

func (b *batchRunner) run(r *rand.Rand) {
	n := 300 + r.Intn(351)
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go b.process(uniformDur(r, 20*time.Second, 150*time.Second), &wg)
		vsleep(20 * time.Second / time.Duration(n))
	}
	wg.Wait()
}

func scenarioBatch() {
	b := &batchRunner{}
	go func() {
		r := newRand(10)
		vsleep(uniformDur(r, time.Minute, 8*time.Minute))
		for {
			go b.run(newRand(100 + r.Int63n(1<<30)))
			vsleep(uniformDur(r, 8500*time.Second/10, 11500*time.Second/10)) // 10 min +- 1.5 min
		}
	}()
}

// --- sinusoid: streaming sessions whose number follows the daily-ish load, a sine of period 2.5 h.

type streamHub struct{ closing chan struct{} }

func (h *streamHub) session(life time.Duration) {
	t := time.NewTimer(rdur(life))
	defer t.Stop()
	select {
	case <-t.C:
	case <-h.closing:
	}
}

const sinePeriod = 150 * time.Minute

// sineLoad starts at its peak (so a detector sees a full fall before the first rise).
func sineLoad(t time.Duration) float64 {
	return 1 + 0.64*math.Cos(2*math.Pi*t.Seconds()/sinePeriod.Seconds())
}

func scenarioSinusoid() {
	h := &streamHub{closing: make(chan struct{})}
	const level, life = 700.0, 3 * time.Minute
	r := newRand(10)
	for i, n := 0, poisson(r, level*sineLoad(0)); i < n; i++ {
		go h.session(expDur(r, life))
	}
	go arrivals(newRand(11), func(t time.Duration) float64 { return level * sineLoad(t) / life.Seconds() },
		func(r *rand.Rand) { go h.session(expDur(r, life)) })
}

// --- bounded long-lived populations: they rise for hours and never shrink, yet are bounded. leakwatch must
// never page on them. Each grows by one goroutine per new key; keys are drawn from a finite, skewed set, so
// arrivals dry up as the keys are used up (slowly: the rarest keys keep arriving for hours).

// keyedWatchers keeps one long-lived goroutine per key, started on the key's first use, that waits for
// updates to that key forever (no goroutine ever leaves).
type keyedWatchers struct {
	mu   sync.Mutex
	seen map[uint64]chan struct{}
}

//go:noinline
func (k *keyedWatchers) watchTenant(updates <-chan struct{}) {
	for range updates {
	}
}

//go:noinline
func (k *keyedWatchers) shardWorker(work <-chan struct{}) {
	for range work {
	}
}

func (k *keyedWatchers) touch(key uint64, worker func(<-chan struct{})) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.seen[key]; ok {
		return
	}
	ch := make(chan struct{})
	k.seen[key] = ch
	go worker(ch)
}

// tenants: one config watcher per tenant, started on the tenant's first request after the feature is
// switched on at 40 min (after warm-up); ~300 tenants, Zipf-distributed requests at ~1.5/min.
func scenarioTenants(tenants uint64, s, perMinute float64, from time.Duration) {
	k := &keyedWatchers{seen: map[uint64]chan struct{}{}}
	zipf := rand.NewZipf(newRand(10), s, 1, tenants-1)
	at(from, func() {
		go arrivals(newRand(11), func(time.Duration) float64 { return perMinute / 60 }, func(*rand.Rand) {
			k.touch(zipf.Uint64(), k.watchTenant)
		})
	})
}

// shards: a worker per cache shard, created lazily on first use; 1,500 shards, keys Zipf(0.9)-distributed
// at ~8 requests/min from the start, so the group rises steeply, then ever more slowly and is still rising
// when the recording ends.
func scenarioShards(shards int, s, perMinute float64) {
	k := &keyedWatchers{seen: map[uint64]chan struct{}{}}
	zr := newRand(10)
	// rand.Zipf needs s > 1; an exponent below 1 (a flatter head) is drawn by inverse transform instead.
	weights := make([]float64, shards)
	total := 0.0
	for i := range weights {
		total += 1 / math.Pow(float64(i+1), s)
		weights[i] = total
	}
	go arrivals(newRand(11), func(time.Duration) float64 { return perMinute / 60 }, func(*rand.Rand) {
		u := zr.Float64() * total
		i := sort.SearchFloat64s(weights, u)
		k.touch(uint64(i), k.shardWorker)
	})
}

// pool: a connection pool that opens a connection whenever demand exceeds it and never closes one; demand
// approaches 600 with a 45-minute time constant from 35 min, so the pool fills for about two hours.
type growingPool struct{ closing chan struct{} }

//go:noinline
func (p *growingPool) hold() { <-p.closing }

func scenarioPool(size int, tau, from time.Duration) {
	p := &growingPool{closing: make(chan struct{})}
	r := newRand(12)
	go func() {
		n := 0
		for {
			vsleep(15 * time.Second)
			t := vnow() - from
			if t < 0 {
				continue
			}
			demand := float64(size) * (1 - math.Exp(-t.Seconds()/tau.Seconds())) * (1 + 0.05*r.NormFloat64())
			for ; float64(n) < demand && n < size; n++ {
				go p.hold()
			}
		}
	}()
}

// ---------------------------------------------------------------- I/O, sleep loops and slow shared leaks
//
// These are recorded with debug=2 on a regular cadence (record-scenarios.py), at a low speed so that the
// runtime's wait minutes mean something; see the recorder's notes on how it scales them.

// peer is a loopback TCP service: a healthy one answers each request after a short delay; a silent one
// accepts and then never writes or closes (a peer whose process hung, or a half-open connection after a
// failover), holding what it accepted so that nothing is closed behind the reader's back.
type peer struct {
	ln     net.Listener
	silent bool
	mu     sync.Mutex
	held   []net.Conn
}

func startPeer(silent bool, stream int64) *peer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatalf("peer listen: %v", err)
	}
	p := &peer{ln: ln, silent: silent}
	r := newRand(stream)
	var rmu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if p.silent {
				p.mu.Lock()
				p.held = append(p.held, c)
				p.mu.Unlock()
				continue
			}
			rmu.Lock()
			delay := lognormal(r, 800*time.Millisecond, 0.6)
			rmu.Unlock()
			go p.answer(c, delay)
		}
	}()
	return p
}

func (p *peer) answer(c net.Conn, delay time.Duration) {
	defer c.Close()
	buf := make([]byte, 64)
	if _, err := c.Read(buf); err != nil {
		return
	}
	time.Sleep(rdur(delay))
	_, _ = c.Write([]byte("OK\n"))
}

// --- iowait: stock reservations read the warehouse's reply without a read deadline.

type warehouseClient struct{ primary, failover *peer }

//go:noinline
func (w *warehouseClient) readReply(c net.Conn) {
	buf := make([]byte, 64)
	_, _ = c.Read(buf) // the bug: no SetReadDeadline, so a peer that went silent keeps this goroutine forever
}

func (w *warehouseClient) reserve(toFailover bool) {
	p := w.primary
	if toFailover {
		p = w.failover
		leaked.Add(1)
	}
	c, err := net.Dial("tcp", p.ln.Addr().String())
	if err != nil {
		return
	}
	defer c.Close()
	if _, err := c.Write([]byte("RESERVE 1\n")); err != nil {
		return
	}
	w.readReply(c)
}

// keepAlive: API client sessions (each its own keep-alive connection to a real net/http server on
// loopback) that arrive, send a request every ~45 s and leave after ~20 min, and long-poll watches the
// server holds up to 5 min: I/O-wait and sleep groups whose goroutines stay for minutes but do come and go.
type apiSession struct{ client *http.Client }

//go:noinline
func (s *apiSession) think(d time.Duration) { time.Sleep(rdur(d)) }

func (s *apiSession) run(r *rand.Rand, base string, life time.Duration) {
	defer s.client.CloseIdleConnections()
	end := vnow() + life
	for vnow() < end {
		s.think(expDur(r, 45*time.Second))
		resp, err := s.client.Get(base + "/api/stock")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
}

//go:noinline
func longPoll(w http.ResponseWriter, r *http.Request, hold time.Duration) {
	t := time.NewTimer(rdur(hold))
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
	_, _ = io.WriteString(w, "no change\n")
}

func startKeepAlive(sessions float64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatalf("api listen: %v", err)
	}
	hr := newRand(20)
	var hmu sync.Mutex
	mux := http.NewServeMux()
	mux.HandleFunc("/api/stock", func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(rdur(50 * time.Millisecond))
		_, _ = io.WriteString(w, "42\n")
	})
	mux.HandleFunc("/api/watch", func(w http.ResponseWriter, r *http.Request) {
		hmu.Lock()
		hold := uniformDur(hr, 30*time.Second, 5*time.Minute)
		hmu.Unlock()
		longPoll(w, r, hold)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: rdur(10 * time.Second), IdleTimeout: rdur(10 * time.Minute)}
	go func() { _ = srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	newClient := func() *http.Client {
		return &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1, IdleConnTimeout: rdur(5 * time.Minute)}}
	}
	life := 20 * time.Minute
	load := newDrift(21, 0.15, 30*time.Minute)
	r0 := newRand(22)
	for i, n := 0, poisson(r0, sessions); i < n; i++ { // start at equilibrium
		s := &apiSession{client: newClient()}
		go s.run(newRand(1000+int64(i)), base, expDur(r0, life))
	}
	go arrivals(newRand(23), func(t time.Duration) float64 { return sessions * load.at(t) / life.Seconds() }, func(r *rand.Rand) {
		s := &apiSession{client: newClient()}
		go s.run(newRand(r.Int63()), base, expDur(r, life))
	})
	watcher := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64}}
	go arrivals(newRand(24), func(t time.Duration) float64 { return 0.1 * load.at(t) }, func(*rand.Rand) {
		go func() {
			resp, err := watcher.Get(base + "/api/watch")
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	})
}

func scenarioIOWait(leadIn time.Duration, perMinute float64) {
	startKeepAlive(40)
	w := &warehouseClient{primary: startPeer(false, 30), failover: startPeer(true, 31)}
	load := newDrift(32, 0.2, 20*time.Minute)
	at(leadIn, func() {
		leakStarts(fmt.Sprintf("reservations routed to a silent failover warehouse (%g/min) read without a deadline", perMinute))
	})
	go arrivals(newRand(33), func(t time.Duration) float64 { return 0.5 * load.at(t) }, func(*rand.Rand) { go w.reserve(false) })
	go arrivals(newRand(34), perMin(leadIn, perMinute, load.at), func(*rand.Rand) { go w.reserve(true) })
}

// --- keepalive (healthy): the I/O side of iowait without its bug, and an idle database pool: a pool
// that opens a connection whenever demand exceeds it and keeps it; each connection's reader waits in
// conn.Read for its rare replies, so its wait grows for tens of minutes, and the pool fills for hours.

type dbConn struct{ c net.Conn }

//go:noinline
func (d *dbConn) readLoop() {
	buf := make([]byte, 64)
	for {
		if _, err := d.c.Read(buf); err != nil {
			return
		}
	}
}

func (d *dbConn) query() { _, _ = d.c.Write([]byte("SELECT 1\n")) }

func scenarioKeepAlive(size int, tau, from time.Duration) {
	startKeepAlive(55)
	// The database keeps each pooled connection and answers every query on it (an echo).
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatalf("db listen: %v", err)
	}
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	r := newRand(41)
	go func() {
		var pool []*dbConn
		for {
			vsleep(15 * time.Second)
			t := vnow() - from
			if t < 0 {
				continue
			}
			demand := float64(size) * (1 - math.Exp(-t.Seconds()/tau.Seconds())) * (1 + 0.05*r.NormFloat64())
			for float64(len(pool)) < demand && len(pool) < size {
				c, err := net.Dial("tcp", echo.Addr().String())
				if err != nil {
					break
				}
				d := &dbConn{c: c}
				pool = append(pool, d)
				go d.readLoop()
			}
			// Queries are rare per connection: ~one per 40 min each, so most readers wait a long time.
			for _, d := range pool {
				if r.Float64() < 15.0/(40*60) {
					d.query()
				}
			}
		}
	}()
	w := &warehouseClient{primary: startPeer(false, 42)}
	load := newDrift(43, 0.2, 20*time.Minute)
	go arrivals(newRand(44), func(t time.Duration) float64 { return 0.5 * load.at(t) }, func(*rand.Rand) { go w.reserve(false) })
}

// --- sleeploop: an export job's status poller loops on time.Sleep until the job is done; a cancelled job
// is never marked done, so its poller loops forever. Each goroutine wakes every 20 s, so its wait never
// reaches a minute: only its staying (its goroutine ID, debug=2) shows it.

type exportJob struct{ done atomic.Bool }

//go:noinline
func (j *exportJob) pollStatus() {
	for !j.done.Load() { // the bug: cancel() forgets to set done
		time.Sleep(rdur(20 * time.Second))
	}
}

type configRefresher struct{ refreshes atomic.Int64 }

//go:noinline
func (c *configRefresher) loop(every time.Duration) {
	for {
		time.Sleep(rdur(every))
		c.refreshes.Add(1)
	}
}

func scenarioSleepLoop(leadIn time.Duration, perMinute float64) {
	c := &configRefresher{}
	r0 := newRand(50)
	for i := 0; i < 24; i++ { // a fixed set of background loops that never exit, by design
		go c.loop(uniformDur(r0, 20*time.Second, 60*time.Second))
	}
	load := newDrift(51, 0.2, 20*time.Minute)
	at(leadIn, func() {
		leakStarts(fmt.Sprintf("cancelled export jobs (%g/min) leave their status poller looping", perMinute))
	})
	go arrivals(newRand(52), func(t time.Duration) float64 { return 0.2 * load.at(t) }, func(r *rand.Rand) {
		j := &exportJob{}
		go j.pollStatus()
		d := lognormal(r, 3*time.Minute, 0.5)
		go func() { time.Sleep(rdur(d)); j.done.Store(true) }()
	})
	go arrivals(newRand(53), perMin(leadIn, perMinute, load.at), func(*rand.Rand) {
		leaked.Add(1)
		go (&exportJob{}).pollStatus()
	})
}

// -------------------------------------------------------------------------------------------- catalogue

type scenario struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Expected any    `json:"expected_function"` // string, or nil for a healthy scenario
	Desc     string `json:"description"`
	LeadIn   string `json:"lead_in"` // virtual, default; "" for healthy
	leadIn   time.Duration
	bg       background
	setup    func(leadIn time.Duration, addr string)
}

func catalogue() []scenario {
	std := background{workers: 128, conns: 250, connLife: 5 * time.Minute, reqRate: 25, reqLife: 2 * time.Second}
	leak := func(name, fn, desc string, leadIn time.Duration, bg background, setup func(time.Duration, string)) scenario {
		return scenario{Name: name, Kind: "leak", Expected: fn, Desc: desc, leadIn: leadIn, bg: bg, setup: setup}
	}
	healthy := func(name, desc string, bg background, setup func()) scenario {
		return scenario{Name: name, Kind: "healthy", Desc: desc, bg: bg, setup: func(time.Duration, string) {
			if setup != nil {
				setup()
			}
		}}
	}
	list := []scenario{
		leak("chansend", "main.(*orderNotifier).forward",
			"order lookups that outlive their caller's timeout block sending the result on an unbuffered channel (~6/min from 25 min, ~450 background)",
			25*time.Minute, std, func(l time.Duration, _ string) { scenarioChanSend(l) }),
		leak("chanrecv", "main.(*priceFeed).await",
			"subscribers to delisted symbols wait on a channel no producer sends to or closes (~3/min from 20 min, ~250 background; recorded as debug=0)",
			20*time.Minute, background{workers: 64, conns: 150, connLife: 4 * time.Minute, reqRate: 12, reqLife: 2 * time.Second},
			func(l time.Duration, _ string) { scenarioChanRecv(l) }),
		leak("ctx", "main.watchInventory",
			"abandoned carts never cancel the context their inventory watcher selects on (~12/min from 30 min, ~850 background incl. ~60 live watchers)",
			30*time.Minute, background{workers: 200, conns: 480, connLife: 6 * time.Minute, reqRate: 40, reqLife: 2 * time.Second},
			func(l time.Duration, _ string) { scenarioCtx(l) }),
		leak("ticker", "main.(*metricsReporter).loop",
			"migrated tenant sessions leave their metrics reporter's ticker loop running, quit never closed (~4/min from 25 min, ~400 background incl. ~36 live reporters)",
			25*time.Minute, background{workers: 96, conns: 220, connLife: 5 * time.Minute, reqRate: 20, reqLife: 2 * time.Second},
			func(l time.Duration, _ string) { scenarioTicker(l) }),
		leak("waitgroup", "main.(*fanout).collect",
			"a part fetcher's error path skips wg.Done(), so its fan-out collector waits forever (~2.5/min from 20 min, ~1,000 background)",
			20*time.Minute, background{workers: 300, conns: 600, connLife: 8 * time.Minute, reqRate: 40, reqLife: 2 * time.Second},
			func(l time.Duration, _ string) { scenarioWaitGroup(l) }),
		leak("mutex", "main.(*sessionStore).touch",
			"expire() returns holding a shard's lock; every later touch of that shard blocks in Lock (~19/min from 25 min, ~650 background)",
			25*time.Minute, background{workers: 160, conns: 380, connLife: 5 * time.Minute, reqRate: 35, reqLife: 2 * time.Second},
			func(l time.Duration, _ string) { scenarioMutex(l) }),
		leak("httphandler", "main.(*auditLog).publish",
			"an HTTP handler starts an audit publisher on context.Background() instead of r.Context(); once the shipper is gone each /api/export leaks one (~5/min, bursty, from 25 min; real loopback HTTP)",
			25*time.Minute, background{workers: 64, conns: 200, connLife: 5 * time.Minute, reqRate: 15, reqLife: 2 * time.Second},
			scenarioHTTPHandler),
		leak("slowleak", "main.(*webhookRetrier).wait",
			"retries whose schedule entry was lost wait on a sync.Cond forever: one per ~2 min from 30 min under a noisy ~2,000 background",
			30*time.Minute, background{workers: 500, conns: 1200, connLife: 10 * time.Minute, reqRate: 45, reqLife: 3 * time.Second},
			func(l time.Duration, _ string) { scenarioSlowLeak(l) }),
		leak("leak_restart", "main.(*leaseKeeper).renew",
			"leases of a dead session are never released (~8/min from 25 min); the service restarts at 70 min, the count falls to near zero and the leak starts over 10 min after the restart",
			25*time.Minute, background{workers: 200, conns: 350, connLife: 5 * time.Minute, reqRate: 25, reqLife: 2 * time.Second, warm: true},
			func(l time.Duration, _ string) { scenarioLeakRestart(l) }),
		// Frequent deploys: the recorder restarts the process on the schedule (record-scenarios.py), and each
		// instance leaks from shortly after its start.
		leak("deploys", "main.(*leaseKeeper).renew",
			"deployed every hour (restarts at 60, 120 and 180 min): each instance leaks leases of a dead session (~3/min) from 2 min after its start, in a group shared with leases that are released; warm-up; ~700 background",
			2*time.Minute, background{workers: 200, conns: 350, connLife: 5 * time.Minute, reqRate: 25, reqLife: 2 * time.Second, warm: true},
			func(l time.Duration, _ string) { scenarioLeases(l, 3) }),
		leak("deploys_b", "main.(*leaseKeeper).renew",
			"deploys as above with other parameters: every 50 min, ~5/min from 1 min after each start; ~1,000 background",
			time.Minute, background{workers: 300, conns: 500, connLife: 6 * time.Minute, reqRate: 30, reqLife: 2 * time.Second, warm: true},
			func(l time.Duration, _ string) { scenarioLeases(l, 5) }),
		// Recorded with debug=2 every 2 virtual minutes, at a low speed (record-scenarios.py).
		leak("iowait", "main.(*warehouseClient).readReply",
			"stock reservations routed to a failover warehouse that accepts and never answers read its reply without a deadline and wait in conn.Read ([IO wait]) forever (~3/min from 25 min), beside ~40 keep-alive API sessions, long polls and a healthy twin; ~450 background",
			25*time.Minute, background{workers: 64, conns: 150, connLife: 4 * time.Minute, reqRate: 12, reqLife: 2 * time.Second},
			func(l time.Duration, _ string) { scenarioIOWait(l, 3) }),
		leak("sleeploop", "main.(*exportJob).pollStatus",
			"cancelled export jobs leave their status poller in a time.Sleep loop forever (~2/min from 25 min); each wakes every 20 s, so no wait reaches a minute; beside pollers of jobs that finish in ~3 min and 24 refresh loops that never exit by design; ~450 background",
			25*time.Minute, background{workers: 64, conns: 150, connLife: 4 * time.Minute, reqRate: 12, reqLife: 2 * time.Second},
			func(l time.Duration, _ string) { scenarioSleepLoop(l, 2) }),
		leak("slowshared", "main.(*leaseKeeper).renew",
			"a very slow leak: one lease of a dead session in ~5 min is never released (from 30 min), in a renew group shared with ~20 leases that are released within minutes; ~500 background",
			30*time.Minute, std, func(l time.Duration, _ string) { scenarioLeases(l, 0.2) }),
		healthy("keepalive",
			"iowait's I/O without its bug: ~55 keep-alive API sessions (requests every ~45 s, ~20 min lives), long polls held up to 5 min, a warehouse client with a responding peer, and an idle database pool that keeps every connection it opens (demand approaches 120 with a 40-min time constant from 30 min; each reader waits ~40 min between replies); ~450 background",
			background{workers: 64, conns: 150, connLife: 4 * time.Minute, reqRate: 12, reqLife: 2 * time.Second},
			func() { scenarioKeepAlive(120, 40*time.Minute, 30*time.Minute) }),
		healthy("deploys_healthy",
			"a healthy service with a warm-up (~900 goroutines after ~20 min) deployed every hour (restarts at 60, 120 and 180 min)",
			background{workers: 300, conns: 500, connLife: 6 * time.Minute, reqRate: 30, reqLife: 2 * time.Second, warm: true}, nil),
		healthy("bursty",
			"random fan-out searches of 150-800 goroutines living ~45 s (up to 4 min), every ~7 min, 30% of them in trains of 2-4; ~500 background",
			background{workers: 150, conns: 300, connLife: 4 * time.Minute, reqRate: 20, reqLife: 2 * time.Second}, scenarioBursty),
		healthy("warmup",
			"fresh process: a connection pool grows with demand to 450 over ~20 min and a config cache's per-key watchers fill to its cap of 320, then both stay flat",
			background{workers: 150, conns: 250, connLife: 5 * time.Minute, reqRate: 20, reqLife: 2 * time.Second, warm: true}, scenarioWarmup),
		healthy("batch",
			"every ~10 min (+-1.5) a batch job fans out 300-650 workers that finish within 20-150 s; ~450 background",
			background{workers: 120, conns: 280, connLife: 5 * time.Minute, reqRate: 20, reqLife: 2 * time.Second}, scenarioBatch),
		healthy("sinusoid",
			"streaming sessions follow a sine of period 2.5 h (700 +- 450, starting at the peak), as does the rest of the load; ~1,000 +- 500 in all",
			background{workers: 120, conns: 150, connLife: 4 * time.Minute, reqRate: 12, reqLife: 2 * time.Second, shape: sineLoad}, scenarioSinusoid),
		healthy("tenants",
			"a config watcher per tenant, started on its first request once the feature is on at 40 min (after warm-up): ~300 tenants, Zipf requests at 1.5/min, so the group rises for hours ever more slowly and never shrinks; ~500 background",
			std, func() { scenarioTenants(300, 1.1, 1.5, 40*time.Minute) }),
		healthy("shards",
			"a worker per cache shard, created lazily on first use: 1,500 shards, Zipf(0.9) keys at 8/min from the start; rises steeply, then ever more slowly, still rising when the recording ends; ~500 background",
			std, func() { scenarioShards(1500, 0.9, 8) }),
		healthy("pool",
			"a connection pool that opens a connection whenever demand exceeds it and never closes one; demand approaches 600 with a 45-min time constant from 35 min; ~500 background",
			std, func() { scenarioPool(600, 45*time.Minute, 35*time.Minute) }),
		// The same shapes with other parameters: tuned on the three above, checked on these.
		healthy("tenants_b",
			"tenants as above with other parameters: ~800 tenants, Zipf(1.3) requests at 4/min from 35 min; ~500 background",
			std, func() { scenarioTenants(800, 1.3, 4, 35*time.Minute) }),
		healthy("shards_b",
			"shards as above with other parameters: 600 shards, Zipf(0.75) keys at 20/min from the start; ~500 background",
			std, func() { scenarioShards(600, 0.75, 20) }),
		healthy("pool_b",
			"pool as above with other parameters: demand approaches 350 with a 70-min time constant from 50 min; ~500 background",
			std, func() { scenarioPool(350, 70*time.Minute, 50*time.Minute) }),
		healthy("restart",
			"a healthy service with a warm-up (~900 goroutines after ~20 min) that is restarted twice (the recorder stops and restarts it)",
			background{workers: 300, conns: 500, connLife: 6 * time.Minute, reqRate: 30, reqLife: 2 * time.Second, warm: true}, nil),
	}
	for i := range list {
		if list[i].Kind == "leak" {
			list[i].LeadIn = list[i].leadIn.String()
		}
	}
	return list
}

// ------------------------------------------------------------------------------------------------- main

func main() {
	name := flag.String("scenario", "", "scenario to play (see -list)")
	list := flag.Bool("list", false, "print the catalogue as JSON lines and exit")
	listen := flag.String("listen", "127.0.0.1:0", "address to serve /debug/pprof on")
	flag.Float64Var(&speed, "speed", 1, "time compression: virtual durations run this many times faster")
	flag.Int64Var(&baseSeed, "seed", 1, "random seed")
	leadIn := flag.Duration("lead-in", -1, "virtual healthy time before a leak starts (default: the scenario's)")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("scenario: ")

	cat := catalogue()
	if *list {
		enc := json.NewEncoder(os.Stdout)
		for _, s := range cat {
			if err := enc.Encode(s); err != nil {
				log.Fatal(err)
			}
		}
		return
	}
	var sc *scenario
	for i := range cat {
		if cat[i].Name == *name {
			sc = &cat[i]
		}
	}
	if sc == nil || speed <= 0 {
		fmt.Fprintf(os.Stderr, "scenario: unknown -scenario %q or -speed <= 0 (see -list)\n", *name)
		os.Exit(2)
	}
	if *leadIn < 0 {
		*leadIn = sc.leadIn
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	sc.bg.start(newDrift(1, 0.08, 30*time.Minute))
	sc.setup(*leadIn, ln.Addr().String())
	go func() {
		for {
			vsleep(10 * time.Minute)
			log.Printf("status virtual_ms=%d goroutines=%d leaked=%d", vnow().Milliseconds(), runtime.NumGoroutine(), leaked.Load())
		}
	}()
	// os.Stdout is unbuffered: this line is on the pipe/file as soon as Printf returns.
	fmt.Printf("listening %s\n", ln.Addr().String())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	select {
	case <-ctx.Done():
		log.Printf("signal received, shutting down virtual_ms=%d leaked=%d", vnow().Milliseconds(), leaked.Load())
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Fatalf("serve: %v", err)
		}
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	// The scripted goroutines are not drained: a process exit ends them, as it does in a real restart.
}
