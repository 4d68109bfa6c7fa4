// logfwd reads lines on a TCP port, counts them and forwards them to a file.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"

	"example.com/logfwd/metrics"
)

type config struct {
	Listen      string            `json:"listen"`
	ForwardTo   string            `json:"forward_to"`
	ReportEvery string            `json:"report_every"`
	Node        string            `json:"node"`
	Token       string            `json:"token"`
	Sinks       []string          `json:"sinks"` // logsink instances (host:port) from the job's link
	Tags        map[string]string `json:"tags"`
}

func main() {
	path := flag.String("config", "/var/vcap/jobs/logfwd/config/logfwd.json", "configuration file")
	flag.Parse()
	cfg := config{Listen: "127.0.0.1:7070", ForwardTo: os.DevNull, ReportEvery: "10s"}
	if data, err := os.ReadFile(*path); err == nil {
		if err := json.Unmarshal(data, &cfg); err != nil {
			log.Fatalf("logfwd: %s: %v", *path, err)
		}
	}
	every, err := time.ParseDuration(cfg.ReportEvery)
	if err != nil || every <= 0 {
		every = 10 * time.Second
	}
	starts := metrics.NewCounter("starts", "node:"+cfg.Node)
	lines := metrics.NewCounter("lines")
	bytes := metrics.NewCounter("bytes")
	starts.Add(1) // the first atomic add: on armv7 without the fix, this is where logfwd dies

	out, err := os.OpenFile(cfg.ForwardTo, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		log.Fatalf("logfwd: %v", err)
	}
	listener, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		log.Fatalf("logfwd: %v", err)
	}
	log.Printf("logfwd %s/%s listening on %s, forwarding to %s", runtime.GOOS, runtime.GOARCH, cfg.Listen, cfg.ForwardTo)
	toSinks := forward(cfg.Sinks, cfg.Node)

	var mu sync.Mutex
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				scanner := bufio.NewScanner(c)
				for scanner.Scan() {
					line := scanner.Text()
					lines.Add(1)
					bytes.Add(uint64(len(line)))
					mu.Lock()
					fmt.Fprintf(out, "%s %s\n", time.Now().UTC().Format(time.RFC3339), line)
					mu.Unlock()
					select {
					case toSinks <- line:
					default: // a slow or absent sink never holds up a job's logging
					}
				}
			}(conn)
		}
	}()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			log.Printf("starts=%d lines=%d bytes=%d", starts.Value(), lines.Value(), bytes.Value())
		case <-stop:
			log.Printf("logfwd stopping: lines=%d", lines.Value())
			return
		}
	}
}

// forward sends each line to the first logsink that answers, reconnecting as needed: a line waits (a second
// at a time) until a logsink is there, as the metron agent keeps envelopes until doppler answers.
func forward(sinks []string, node string) chan<- string {
	lines := make(chan string, 1024)
	if len(sinks) == 0 {
		go func() {
			for range lines {
			}
		}()
		return lines
	}
	go func() {
		var conn net.Conn
		for line := range lines {
			for conn == nil {
				for _, sink := range sinks {
					c, err := net.DialTimeout("tcp", sink, 2*time.Second)
					if err == nil {
						conn = c
						log.Printf("logfwd: forwarding to logsink %s", sink)
						break
					}
				}
				if conn == nil {
					time.Sleep(time.Second)
				}
			}
			if _, err := fmt.Fprintf(conn, "%s %s\n", node, line); err != nil {
				conn.Close()
				conn = nil
			}
		}
	}()
	return lines
}
