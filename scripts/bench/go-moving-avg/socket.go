// A socket mode for Kapacitor's own Go agent example moving_avg (udf/agent/examples/moving_avg), built beside that
// example's moving_avg.go by scripts/bench/build-go-agent.sh, which renames the example's main to stdioMain.
//
//	moving_avg                  process mode, as the example ships (stdin/stdout)
//	moving_avg -socket PATH     one agent per connection, served by the agent package's own agent.NewServer
//
// It prints "ready" on stdout once listening. Written here for the benchmark (src/bench/kapacitor.ts); the handler is
// the example's, unchanged.
package main

import (
	"fmt"
	"log"
	"net"
	"os"
	"syscall"

	"github.com/influxdata/kapacitor/udf/agent"
)

type perConnection struct{}

func (perConnection) Accept(conn net.Conn) {
	a := agent.New(conn, conn)
	a.Handler = newMovingAvgHandler(a)
	go func() {
		if err := a.Start(); err != nil {
			log.Println(err)
			return
		}
		if err := a.Wait(); err != nil {
			log.Println(err)
		}
	}()
}

func serveSocket(path string) {
	l, err := net.Listen("unix", path)
	if err != nil {
		log.Fatal(err)
	}
	s := agent.NewServer(l, perConnection{})
	s.StopOnSignals(os.Interrupt, syscall.SIGTERM)
	fmt.Println("ready")
	if err := s.Serve(); err != nil {
		log.Fatal(err)
	}
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-socket" {
		serveSocket(os.Args[2])
		return
	}
	stdioMain()
}
