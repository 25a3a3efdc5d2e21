package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

const (
	prometheusInstall = "apt-get install -y prometheus"
	// prometheusStartTimeout covers TSDB creation and WAL replay on a loaded CI machine;
	// a healthy start takes well under a second.
	prometheusStartTimeout = 30 * time.Second
	prometheusLogName      = "prometheus.log"
)

// PrometheusOptions configures StartPrometheus.
type PrometheusOptions struct {
	// Config is the prometheus.yml. Relative paths in it (rule_files) resolve against the
	// directory it is written to, where Files are written too.
	Config string
	// Files are written next to the config, by name: rule files, for instance.
	Files map[string][]byte
}

// Prometheus is a prometheus server owned by one test.
type Prometheus struct {
	// URL is the base address of the HTTP API, http://127.0.0.1:<port>.
	URL string
	// Dir holds the config, the files, the TSDB and prometheus.log.
	Dir string

	client *http.Client
}

// StartPrometheus runs a prometheus of the test's own on a free port, with its TSDB in a
// temporary directory, and waits until /-/ready answers. It is killed in t.Cleanup.
func StartPrometheus(t testing.TB, opt PrometheusOptions) *Prometheus {
	t.Helper()
	bin := requireTool(t, "prometheus", prometheusInstall)
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, []byte(opt.Config), 0o644); err != nil {
		t.Fatalf("testenv: writing prometheus config: %v", err)
	}
	for name, data := range opt.Files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatalf("testenv: writing %s: %v", name, err)
		}
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
	logf, err := os.Create(filepath.Join(dir, prometheusLogName))
	if err != nil {
		t.Fatalf("testenv: prometheus log: %v", err)
	}
	cmd := exec.Command(bin,
		"--config.file="+config,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("testenv: starting prometheus: %v", err)
	}
	logf.Close()
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	p := &Prometheus{URL: "http://" + addr, Dir: dir, client: &http.Client{Timeout: 5 * time.Second}}
	WaitFor(t, prometheusStartTimeout, "prometheus "+addr+" to be ready", func() bool {
		select {
		case <-exited:
			t.Fatalf("testenv: prometheus exited during start-up (%v); log:\n%s", cmd.ProcessState, p.Log())
		default:
		}
		resp, err := p.client.Get(p.URL + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// Sample is one series of an instant query's vector result.
type Sample struct {
	Metric map[string]string
	Value  float64
}

// Query runs an instant PromQL query now and returns its vector; a query that does not
// evaluate to a vector (a scalar or a string) is an error, as is any API error.
func (p *Prometheus) Query(ctx context.Context, expr string) ([]Sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/api/v1/query?query="+url.QueryEscape(expr), nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var r struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("query %q: HTTP %d: %w", expr, resp.StatusCode, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %q: %s: %s", expr, r.ErrorType, r.Error)
	}
	if r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %q: result type %s, want vector", expr, r.Data.ResultType)
	}
	out := make([]Sample, 0, len(r.Data.Result))
	for _, s := range r.Data.Result {
		// The API spells sample values as strings ("NaN", "+Inf" included).
		str, _ := s.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("query %q: value %v: %w", expr, s.Value[1], err)
		}
		out = append(out, Sample{Metric: s.Metric, Value: v})
	}
	return out, nil
}

// Log returns what prometheus wrote so far, for failure messages.
func (p *Prometheus) Log() string {
	b, err := os.ReadFile(filepath.Join(p.Dir, prometheusLogName))
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return string(b)
}
