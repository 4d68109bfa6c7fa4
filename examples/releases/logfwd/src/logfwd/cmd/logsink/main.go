// logsink receives the lines logfwd instances forward and keeps them in one file, as loggregator's doppler
// collects what the metron agents send.
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
)

type config struct {
	Listen string `json:"listen"`
	Store  string `json:"store"`
}

func main() {
	path := flag.String("config", "/var/vcap/jobs/logsink/config/logsink.json", "configuration file")
	flag.Parse()
	cfg := config{Listen: "0.0.0.0:7071", Store: os.DevNull}
	if data, err := os.ReadFile(*path); err == nil {
		if err := json.Unmarshal(data, &cfg); err != nil {
			log.Fatalf("logsink: %s: %v", *path, err)
		}
	}
	out, err := os.OpenFile(cfg.Store, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		log.Fatalf("logsink: %v", err)
	}
	listener, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		log.Fatalf("logsink: %v", err)
	}
	log.Printf("logsink %s/%s listening on %s, keeping lines in %s", runtime.GOOS, runtime.GOARCH, cfg.Listen, cfg.Store)
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
					mu.Lock()
					fmt.Fprintln(out, scanner.Text())
					mu.Unlock()
				}
			}(conn)
		}
	}()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	log.Printf("logsink stopping")
}
