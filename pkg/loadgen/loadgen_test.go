package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestCountsSuccessesAndFailuresWithReasons(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) % 4 {
		case 0:
			http.Error(w, "boom", http.StatusInternalServerError)
		case 1:
			_, _ = w.Write([]byte("nope")) // a fake answering the client under test
		default:
			_, _ = w.Write([]byte("pong\n")) // a fake answering the client under test
		}
	}))
	defer srv.Close()

	run, err := Start(context.Background(), Config{Targets: []string{srv.URL + "/ping"}, Rate: 200, ExpectStatus: 200, ExpectBody: "pong"})
	if err != nil {
		t.Fatal(err)
	}
	for run.Snapshot().OK+run.Snapshot().Failed < 40 {
		time.Sleep(10 * time.Millisecond)
	}
	res := run.Stop()
	total := res.OK + res.Failed
	if total != n.Load() {
		t.Errorf("counted %d requests, the server saw %d", total, n.Load())
	}
	if res.OK == 0 || res.Failed == 0 {
		t.Fatalf("want both successes and failures: %s", res)
	}
	if res.Errors["status 500"] == 0 || res.Errors[`body without "pong"`] == 0 {
		t.Errorf("failure reasons: %v", res.Errors)
	}
	if res.P99 <= 0 || res.P50 > res.P99 {
		t.Errorf("latencies p50 %v p99 %v", res.P50, res.P99)
	}
}

func TestStopsWithItsContextAndRejectsBadConfig(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	run, err := Start(ctx, Config{Targets: []string{srv.URL}, Rate: 50})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	res := run.Stop()
	if res.OK == 0 || res.Failed != 0 {
		t.Errorf("result: %s", res)
	}
	if _, err := Start(context.Background(), Config{Rate: 1}); err == nil {
		t.Error("no targets: want an error")
	}
	if _, err := Start(context.Background(), Config{Targets: []string{srv.URL}}); err == nil {
		t.Error("rate 0: want an error")
	}
}
