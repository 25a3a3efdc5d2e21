package faults_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
	"golang.org/x/crypto/bcrypt"

	"github.com/cskpi/cskpi/internal/difftest"
	"github.com/cskpi/cskpi/internal/testenv"
)

// secret is a password no log line could contain by chance.
func secret(t *testing.T, what string) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return what + "-" + hex.EncodeToString(b)
}

// secretFile writes s to a file of its own, readable by its owner only.
func secretFile(t *testing.T, s string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// assertNotLogged fails when any secret occurs in the log.
func assertNotLogged(t *testing.T, p *difftest.Proc, secrets ...string) {
	t.Helper()
	log := p.Log()
	for _, s := range secrets {
		if strings.Contains(log, s) {
			t.Errorf("the log of %s contains a secret (%d bytes of log)", p.Name, len(log))
		}
	}
}

// TestAccessWeb: /metrics over TLS with basic auth from an exporter-toolkit web config,
// end to end through the binary: without the password, with a wrong one, over plain HTTP
// and with a client that does not trust the CA it is refused; with the password it serves
// exactly recompute's series; neither the password nor its hash is logged.
func TestAccessWeb(t *testing.T) {
	t.Parallel()
	certs := testenv.NewCerts(t)
	pass := secret(t, "web")
	hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  ops: %s\n",
		certs.CertFile, certs.KeyFile, hash), 0o600); err != nil {
		t.Fatal(err)
	}
	f := difftest.NewFixture(t, 83, 3000, testenv.RedisOptions{})
	p := difftest.StartServe(t, bin, difftest.ServeOptions{Scheme: "https",
		Args: serveArgs(f.Kafka.Brokers, f.Redis.Addr, "web", "--web.config.file="+cfg, "--log.level=debug")})
	p.Client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: certs.ClientTLS()}}

	// Refusals, once the server answers.
	testenv.WaitFor(t, 30*time.Second, "the HTTPS server to answer", func() bool {
		code, _, err := p.Get("/-/healthy")
		return err == nil && code == http.StatusUnauthorized
	})
	var refused []string
	for _, c := range []struct{ name, user, pass string }{{"no credentials", "", ""}, {"wrong password", "ops", pass + "x"}, {"unknown user", "root", pass}} {
		p.User, p.Pass = c.user, c.pass
		if code, _, err := p.Get("/metrics"); err != nil || code != http.StatusUnauthorized {
			t.Errorf("%s: /metrics answered %d, %v; want 401", c.name, code, err)
		}
		refused = append(refused, c.name+" 401")
	}
	plainURL := strings.Replace(p.Base, "https://", "http://", 1) + "/metrics"
	if resp, err := http.Get(plainURL); err == nil {
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP /metrics answered 200")
		}
		refused = append(refused, fmt.Sprintf("plain HTTP %d", resp.StatusCode))
		resp.Body.Close()
	} else {
		refused = append(refused, "plain HTTP error")
	}
	untrusting := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}
	if _, err := difftest.ScrapeWith(untrusting, p.Base+"/metrics", "ops", pass); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client without the CA: %v, want a certificate error", err)
	}
	refused = append(refused, "unknown CA refused")

	p.User, p.Pass = "ops", pass
	difftest.AwaitMatchFunc(t, p.Scrape, f.Want, len(f.Lines), 60*time.Second)
	awaitReady(t, p, 200, 10*time.Second)
	assertNotLogged(t, p, pass, string(hash))
	t.Logf("TLS + basic auth: %s; with the password all %d series equal recompute; password and hash absent from %d bytes of debug log",
		strings.Join(refused, ", "), len(f.Want), len(p.Log()))
	p.Stop()
}

// TestAccessRedis: Redis with requirepass (password from a file, and from
// CSKPI_REDIS_PASSWORD), with an ACL user limited to the cskpi:* keys, and over TLS with
// a client certificate. Each serves exactly recompute's series and never logs the
// password; a wrong password leaves the service running, not ready, and silent about it.
func TestAccessRedis(t *testing.T) {
	t.Parallel()
	certs := testenv.NewCerts(t)
	type setup struct {
		redis testenv.RedisOptions
		addr  func(*testenv.Redis) string
		init  func(*testing.T, *testenv.Redis)
		args  func(pass string) []string
		env   func(pass string) []string
		wrong bool
	}
	same := func(r *testenv.Redis) string { return r.Addr }
	aclUser := func(user string) func(*testing.T, *testenv.Redis) {
		return func(t *testing.T, r *testenv.Redis) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			// Only the cskpi:* keys and the commands the service needs.
			if err := r.Client(t).Do(ctx, "ACL", "SETUSER", user, "on", ">"+r.Password+"-user", "resetkeys", "~cskpi:*",
				"resetchannels", "-@all", "+@connection", "+@read", "+@write", "+@scripting", "+ping").Err(); err != nil {
				t.Fatalf("ACL SETUSER: %v", err)
			}
		}
	}
	tlsPort := testenv.FreePort(t)
	cases := []struct {
		name string
		s    setup
	}{
		{"requirepass, password file", setup{
			redis: testenv.RedisOptions{Password: secret(t, "redis")}, addr: same,
			args: func(pass string) []string { return []string{"--redis.password-file=" + secretFile(t, pass)} }}},
		{"requirepass, CSKPI_REDIS_PASSWORD", setup{
			redis: testenv.RedisOptions{Password: secret(t, "redis")}, addr: same,
			env: func(pass string) []string { return []string{"CSKPI_REDIS_PASSWORD=" + pass} }}},
		{"ACL user limited to cskpi:*", setup{
			redis: testenv.RedisOptions{Password: secret(t, "redis")}, addr: same, init: aclUser("kpi"),
			args: func(pass string) []string {
				return []string{"--redis.username=kpi", "--redis.password-file=" + secretFile(t, pass+"-user")}
			}}},
		{"TLS with a client certificate, ACL user", setup{
			redis: testenv.RedisOptions{Password: secret(t, "redis"), Args: []string{"--tls-port", strconv.Itoa(tlsPort),
				"--tls-cert-file", certs.CertFile, "--tls-key-file", certs.KeyFile, "--tls-ca-cert-file", certs.CAFile, "--tls-auth-clients", "yes"}},
			addr: func(*testenv.Redis) string { return "127.0.0.1:" + strconv.Itoa(tlsPort) }, init: aclUser("kpi"),
			args: func(pass string) []string {
				return []string{"--redis.username=kpi", "--redis.password-file=" + secretFile(t, pass+"-user"), "--redis.tls",
					"--redis.tls.ca-file=" + certs.CAFile, "--redis.tls.cert-file=" + certs.CertFile, "--redis.tls.key-file=" + certs.KeyFile}
			}}},
		{"wrong password", setup{
			redis: testenv.RedisOptions{Password: secret(t, "redis")}, addr: same, wrong: true,
			args: func(pass string) []string { return []string{"--redis.password-file=" + secretFile(t, pass+"-wrong")} }}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := difftest.NewFixtureWith(t, difftest.Options{Seed: int64(89 + i), Records: 1500, Redis: c.s.redis})
			if c.s.init != nil {
				c.s.init(t, f.Redis)
			}
			pass := f.Redis.Password
			var args, env []string
			if c.s.args != nil {
				args = c.s.args(pass)
			}
			if c.s.env != nil {
				env = c.s.env(pass)
			}
			args = append(serveArgs(f.Kafka.Brokers, c.s.addr(f.Redis), "redis-access", "--log.level=debug"), args...)
			p := difftest.StartServe(t, bin, difftest.ServeOptions{Args: args, Env: env})
			if c.s.wrong {
				awaitReady(t, p, 503, 30*time.Second)
				testenv.WaitFor(t, 30*time.Second, "an authentication error in the log", func() bool {
					l := p.Log()
					return strings.Contains(l, "WRONGPASS") || strings.Contains(l, "invalid username-password")
				})
				if !p.Alive() {
					t.Fatalf("serve exited with a wrong Redis password: %v", p.ExitErr())
				}
				if n := difftest.Progress(f.Redis.Client(t)); n != 0 {
					t.Errorf("%d records committed with a wrong password", n)
				}
				assertNotLogged(t, p, pass, pass+"-wrong")
				t.Logf("%s: not ready, WRONGPASS in the log, nothing committed, neither password logged", c.name)
				p.Stop()
				return
			}
			difftest.AwaitMatchFunc(t, p.Scrape, f.Want, len(f.Lines), 60*time.Second)
			awaitReady(t, p, 200, 10*time.Second)
			assertNotLogged(t, p, pass, pass+"-user")
			t.Logf("%s: all %d series equal recompute; password absent from %d bytes of debug log", c.name, len(f.Want), len(p.Log()))
			p.Stop()
		})
	}
}

// TestAccessKafka: the broker over TLS, with SASL/PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512
// (the last over TLS too), passwords from a file or CSKPI_KAFKA_SASL_PASSWORD. Each
// consumes, dead-letters and serves exactly recompute's series without logging the
// password; a wrong password leaves the service running and not ready.
func TestAccessKafka(t *testing.T) {
	t.Parallel()
	certs := testenv.NewCerts(t)
	cases := []struct {
		name, mech string // mech: "" for none, else kfake's name
		tls        bool
		env, wrong bool
	}{
		{name: "TLS", tls: true},
		{name: "SASL/PLAIN, password file", mech: "PLAIN"},
		{name: "SASL/SCRAM-SHA-256, CSKPI_KAFKA_SASL_PASSWORD", mech: "SCRAM-SHA-256", env: true},
		{name: "SASL/SCRAM-SHA-512 over TLS", mech: "SCRAM-SHA-512", tls: true},
		{name: "SASL/SCRAM-SHA-256, wrong password", mech: "SCRAM-SHA-256", wrong: true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pass := secret(t, "kafka")
			ko := testenv.KafkaOptions{Partitions: partitions, Topics: []string{topicM, topicO, topicDL}}
			tr := &kafka.Transport{DialTimeout: 10 * time.Second}
			var args, env []string
			if c.tls {
				ko.TLS = certs.ServerTLS()
				tr.TLS = certs.ClientTLS()
				args = append(args, "--kafka.tls", "--kafka.tls.ca-file="+certs.CAFile)
			}
			if c.mech != "" {
				ko.SASL = []testenv.SASLUser{{Mechanism: c.mech, User: "kpi", Password: pass}}
				var mech sasl.Mechanism = plain.Mechanism{Username: "kpi", Password: pass}
				if c.mech != "PLAIN" {
					algo := scram.SHA256
					if c.mech == "SCRAM-SHA-512" {
						algo = scram.SHA512
					}
					m, err := scram.Mechanism(algo, "kpi", pass)
					if err != nil {
						t.Fatal(err)
					}
					mech = m
				}
				tr.SASL = mech
				given := pass
				if c.wrong {
					given = pass + "-wrong"
				}
				args = append(args, "--kafka.sasl.mechanism="+strings.ToLower(c.mech), "--kafka.sasl.username=kpi")
				if c.env {
					env = append(env, "CSKPI_KAFKA_SASL_PASSWORD="+given)
				} else {
					args = append(args, "--kafka.sasl.password-file="+secretFile(t, given))
				}
			}
			k := testenv.StartKafkaWith(t, ko)
			f := difftest.NewFixtureWith(t, difftest.Options{Seed: int64(97 + i), Records: 1500, Kafka: k, Transport: tr})
			p := difftest.StartServe(t, bin, difftest.ServeOptions{Env: env,
				Args: append(serveArgs(k.Brokers, f.Redis.Addr, "kafka-access", "--log.level=debug"), args...)})
			if c.wrong {
				awaitReady(t, p, 503, 30*time.Second)
				testenv.WaitFor(t, 30*time.Second, "an authentication error in the log", func() bool {
					return strings.Contains(strings.ToLower(p.Log()), "authentication failed")
				})
				if !p.Alive() {
					t.Fatalf("serve exited with a wrong SASL password: %v", p.ExitErr())
				}
				if up, _ := p.Metric("cskpi_kafka_up"); up != 0 {
					t.Errorf("cskpi_kafka_up = %v with a wrong password", up)
				}
				assertNotLogged(t, p, pass, pass+"-wrong")
				t.Logf("%s: not ready, cskpi_kafka_up 0, 'authentication failed' in the log, neither password logged", c.name)
				p.Stop()
				return
			}
			difftest.AwaitMatchFunc(t, p.Scrape, f.Want, len(f.Lines), 60*time.Second)
			awaitReady(t, p, 200, 10*time.Second)
			// Rejected records reached the dead-letter topic through the same TLS/SASL.
			dead := countRecords(t, k.Brokers, tr, topicDL)
			var rejected int64
			for _, n := range f.Ref.Rejected {
				rejected += n
			}
			if int64(dead) != rejected {
				t.Errorf("%d dead letters, recompute rejects %d", dead, rejected)
			}
			assertNotLogged(t, p, pass)
			t.Logf("%s: all %d series equal recompute, %d dead letters written; password absent from %d bytes of debug log",
				c.name, len(f.Want), dead, len(p.Log()))
			p.Stop()
		})
	}
}

// countRecords counts the records of every partition of topic, through tr.
func countRecords(t *testing.T, brokers []string, tr *kafka.Transport, topic string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for p := range partitions {
		req.Topics[topic] = append(req.Topics[topic], kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	resp, err := c.ListOffsets(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			t.Fatal(po.Error)
		}
		n += int(po.LastOffset - po.FirstOffset)
	}
	return n
}
