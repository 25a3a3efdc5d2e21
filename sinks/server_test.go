package sinks

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/net/html"
)

// startServer runs Serve in the background on 127.0.0.1:0 and returns the bound
// address; the cleanup cancels it and checks that it ended cleanly.
func startServer(t *testing.T, opt ServerOptions) string {
	t.Helper()
	opt.ListenAddress = "127.0.0.1:0"
	addrCh := make(chan net.Addr, 1)
	opt.OnListen = func(a net.Addr) { addrCh <- a }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, opt) }()
	var addr net.Addr
	select {
	case addr = <-addrCh:
	case err := <-done:
		cancel()
		t.Fatalf("Serve returned before listening: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("Serve did not report its address")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve after cancel: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after cancel")
		}
	})
	return addr.String()
}

func testRegistry(t *testing.T) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "cskpi_test_gauge", Help: "A test gauge."})
	g.Set(42)
	reg.MustRegister(g)
	return reg
}

func get(t *testing.T, c *http.Client, url string, header http.Header, user, pass string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", url, err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

// testShopsPage is a /shops with one shop.
func testShopsPage() *ShopsPage {
	return &ShopsPage{KPIs: fixtures(fixture{shop: "s1", respSum: 3, resp: 1, over: over(1, 0, 0)}),
		AsOf: func() int64 { return testAsOf }}
}

func TestServePlainHTTP(t *testing.T) {
	addr := startServer(t, ServerOptions{Gatherer: testRegistry(t), Version: "test-1", Shops: testShopsPage()})
	tests := []struct {
		name      string
		path      string
		accept    string
		wantCode  int
		wantBody  string
		wantCType string
	}{
		{"metrics text", "/metrics", "", 200, "cskpi_test_gauge 42", "text/plain"},
		{"metrics openmetrics", "/metrics", "application/openmetrics-text; version=1.0.0", 200, "# EOF", "application/openmetrics-text"},
		{"healthy", "/-/healthy", "", 200, "healthy", "text/plain"},
		{"ready without Ready func", "/-/ready", "", 200, "ready", "text/plain"},
		{"landing page", "/", "", 200, "test-1", "text/html"},
		{"shops page", "/shops", "", 200, "<td>s1</td>", "text/html"},
		{"no waiting API without a WaitingFunc", "/api/v1/waiting", "", 404, "", ""},
		{"unknown path", "/nope", "", 404, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.accept != "" {
				h.Set("Accept", tc.accept)
			}
			code, hdr, body := get(t, http.DefaultClient, "http://"+addr+tc.path, h, "", "")
			if code != tc.wantCode {
				t.Fatalf("status %d, want %d; body %q", code, tc.wantCode, body)
			}
			if !strings.Contains(body, tc.wantBody) {
				t.Errorf("body %q does not contain %q", body, tc.wantBody)
			}
			if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, tc.wantCType) {
				t.Errorf("Content-Type %q, want prefix %q", ct, tc.wantCType)
			}
		})
	}
}

func TestServeLandingPageLinks(t *testing.T) {
	waiting := func(string, time.Duration) ([]Episode, time.Time, bool) { return nil, time.Time{}, true }
	tests := []struct {
		name string
		opt  ServerOptions
		want []string
	}{
		{"everything served", ServerOptions{Waiting: waiting, Shops: testShopsPage()},
			[]string{"/metrics", "/-/healthy", "/-/ready", "/api/v1/waiting", "/shops"}},
		// No link to a page that would answer 404.
		{"no waiting API, no shops page", ServerOptions{},
			[]string{"/metrics", "/-/healthy", "/-/ready"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opt.Gatherer = testRegistry(t)
			h, err := newHandler(tc.opt, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			doc, err := html.Parse(rec.Body)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range all(doc, "a", "") {
				// The profiling links come last; the ones of interest are in main's list.
				if h := attr(a, "href"); !strings.Contains(h, "pprof") {
					got = append(got, h)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("links %q, want %q", got, tc.want)
			}
			for _, path := range tc.want {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
				if rec.Code != http.StatusOK {
					t.Errorf("GET %s: %d", path, rec.Code)
				}
			}
		})
	}
}

func TestServeReadyToggles(t *testing.T) {
	var ready atomic.Bool
	addr := startServer(t, ServerOptions{Gatherer: testRegistry(t), Ready: ready.Load})
	tests := []struct {
		name     string
		ready    bool
		wantCode int
		wantBody string
	}{
		{"not ready", false, http.StatusServiceUnavailable, "not ready\n"},
		{"ready", true, http.StatusOK, "ready\n"},
		{"not ready again", false, http.StatusServiceUnavailable, "not ready\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ready.Store(tc.ready)
			code, _, body := get(t, http.DefaultClient, "http://"+addr+"/-/ready", nil, "", "")
			if code != tc.wantCode || body != tc.wantBody {
				t.Fatalf("got %d %q, want %d %q", code, body, tc.wantCode, tc.wantBody)
			}
		})
	}
}

// writeTLSWebConfig writes a self-signed certificate for 127.0.0.1 and an
// exporter-toolkit web config that serves it and requires user:pass, and returns the
// config path and a pool trusting the certificate.
func writeTLSWebConfig(t *testing.T, user, pass string) (string, *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "cskpi test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(dir, "cert.pem")
	keyFile := filepath.Join(dir, "key.pem")
	writeFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))

	// MinCost: the hash is checked on every request and the default cost would make
	// the test slow without testing anything more.
	hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  %s: %s\n",
		certFile, keyFile, user, hash)
	cfgFile := filepath.Join(dir, "web.yml")
	writeFile(t, cfgFile, []byte(cfg))

	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return cfgFile, pool
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestServeTLSAndBasicAuth(t *testing.T) {
	cfgFile, pool := writeTLSWebConfig(t, "prom", "hunter2")
	addr := startServer(t, ServerOptions{Gatherer: testRegistry(t), WebConfigFile: cfgFile, Shops: testShopsPage()})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(client.CloseIdleConnections)

	tests := []struct {
		name     string
		path     string
		user     string
		pass     string
		wantCode int
		wantBody string
	}{
		{"no credentials", "/metrics", "", "", http.StatusUnauthorized, ""},
		{"wrong password", "/metrics", "prom", "nope", http.StatusUnauthorized, ""},
		{"unknown user", "/metrics", "eve", "hunter2", http.StatusUnauthorized, ""},
		{"authenticated metrics", "/metrics", "prom", "hunter2", http.StatusOK, "cskpi_test_gauge 42"},
		{"health is protected too", "/-/healthy", "", "", http.StatusUnauthorized, ""},
		{"authenticated health", "/-/healthy", "prom", "hunter2", http.StatusOK, "healthy"},
		{"shops page is protected too", "/shops", "", "", http.StatusUnauthorized, ""},
		{"shops page, wrong password", "/shops", "prom", "nope", http.StatusUnauthorized, ""},
		{"authenticated shops page", "/shops", "prom", "hunter2", http.StatusOK, "<td>s1</td>"},
		// As in Prometheus, the profiles and the landing page sit behind the web config too.
		{"profiles are protected too", "/debug/pprof/", "", "", http.StatusUnauthorized, ""},
		{"CPU profile is protected too", "/debug/pprof/profile?seconds=1", "", "", http.StatusUnauthorized, ""},
		{"authenticated profiles", "/debug/pprof/", "prom", "hunter2", http.StatusOK, "goroutine"},
		{"no command line, even authenticated", "/debug/pprof/cmdline", "prom", "hunter2", http.StatusNotFound, ""},
		{"landing page is protected too", "/", "", "", http.StatusUnauthorized, ""},
		{"authenticated landing page", "/", "prom", "hunter2", http.StatusOK, "/debug/pprof"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := get(t, client, "https://"+addr+tc.path, nil, tc.user, tc.pass)
			if code != tc.wantCode {
				t.Fatalf("status %d, want %d; body %q", code, tc.wantCode, body)
			}
			if !strings.Contains(body, tc.wantBody) {
				t.Errorf("body %q does not contain %q", body, tc.wantBody)
			}
		})
	}

	t.Run("plain HTTP is not served", func(t *testing.T) {
		code, _, _ := get(t, http.DefaultClient, "http://"+addr+"/metrics", nil, "prom", "hunter2")
		if code == http.StatusOK {
			t.Fatal("plain HTTP request to a TLS listener succeeded")
		}
	})
}

func TestServeShutsDownOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addrCh := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ServerOptions{
			ListenAddress: "127.0.0.1:0",
			Gatherer:      testRegistry(t),
			OnListen:      func(a net.Addr) { addrCh <- a },
		})
	}()
	var addr net.Addr
	select {
	case addr = <-addrCh:
	case err := <-done:
		t.Fatalf("Serve returned early: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	// Serve promises the listener is closed by the time it returns.
	if conn, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
		conn.Close()
		t.Fatalf("%s still accepts connections after Serve returned", addr)
	}
}

func TestServeStartupErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	badCfg := filepath.Join(t.TempDir(), "web.yml")
	writeFile(t, badCfg, []byte("tls_server_config:\n  cert_file: /nonexistent/cert.pem\n  key_file: /nonexistent/key.pem\n"))

	tests := []struct {
		name    string
		opt     ServerOptions
		wantErr string
	}{
		{"nil gatherer", ServerOptions{ListenAddress: "127.0.0.1:0"}, "Gatherer is nil"},
		{"missing web config", ServerOptions{ListenAddress: "127.0.0.1:0", WebConfigFile: "/nonexistent/web.yml"}, "web config"},
		{"web config with missing cert", ServerOptions{ListenAddress: "127.0.0.1:0", WebConfigFile: badCfg}, "web config"},
		{"address in use", ServerOptions{ListenAddress: busy.Addr().String()}, "listen"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opt := tc.opt
			if tc.name != "nil gatherer" {
				opt.Gatherer = testRegistry(t)
			}
			opt.OnListen = func(a net.Addr) { t.Errorf("listened on %s despite a start-up error", a) }
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := Serve(ctx, opt)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Serve error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestServeGivenListener: Serve serves the listener Listen bound beforehand, not a second one.
func TestServeGivenListener(t *testing.T) {
	ln, err := Listen("127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	addr := startServer(t, ServerOptions{Gatherer: testRegistry(t), Listener: ln})
	if addr != ln.Addr().String() {
		t.Fatalf("served %s, want the given listener's %s", addr, ln.Addr())
	}
	if code, _, body := get(t, http.DefaultClient, "http://"+addr+"/metrics", nil, "", ""); code != http.StatusOK || !strings.Contains(body, "cskpi_test_gauge 42") {
		t.Errorf("/metrics: %d %q", code, body)
	}
}
